import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ColumnInference, coerceCell, type ColumnInfo } from '../mtl/column-inference.js';
import type { Row } from '../mtl/values.js';
import type { RowSource } from '../mtl/row-source.js';
import { writeDirAtomically } from './atomic-dir.js';
import { isValidId, newId } from './ids.js';
import { ByteLimit, parseRows, type TabularFormat } from './tabular-parser.js';
import { DatasetFormatError, NotFoundError, PayloadTooLargeError } from './store-errors.js';

export interface DatasetLimits {
  maxBytes: number;
  maxRows?: number;
  maxColumns?: number;
}

export interface DatasetInfo {
  id: string;
  name: string;
  format: TabularFormat;
  rows: number;
  columns: ColumnInfo[];
  bytes: number;
  createdAt: string;
}

const META = 'dataset.json';
const ROWS = 'rows.ndjson';

/**
 * Datasets on disk: `<dir>/<id>/rows.ndjson` (one JSON array a row: the cells as uploaded, in the
 * order of `dataset.json`'s columns; a shorter array lacks the columns after it; lines written
 * before this format are JSON objects, still read) and `dataset.json` (name, row count, inferred
 * column types). An upload is parsed as it streams in
 * and appears only once it is complete.
 */
export class DatasetStore {
  constructor(private readonly dir: string) {}

  async create(name: string, format: TabularFormat, body: Readable, limits: number | DatasetLimits): Promise<DatasetInfo> {
    const { maxBytes, maxRows = Infinity, maxColumns = Infinity } = typeof limits === 'number' ? { maxBytes: limits } : limits;
    const id = newId();
    return writeDirAtomically(join(this.dir, id), async (tmp) => {
      let inference = new ColumnInference();
      const limited = new ByteLimit(maxBytes);
      body.on('error', (err) => limited.destroy(err));
      body.pipe(limited);
      const rows = parseRows(limited, format);
      let header = format === 'csv';
      async function* lines() {
        for await (const row of rows) {
          if (header) {
            // CSV: the header names the columns, every record is an array in their order.
            inference = new ColumnInference(row as string[]);
            header = false;
            continue;
          }
          if (Array.isArray(row)) inference.addCells(row);
          else inference.add(row);
          if (inference.rowCount > maxRows) throw new PayloadTooLargeError(maxRows, `the dataset has more than ${maxRows} rows (DATASET_MAX_ROWS)`);
          if (inference.columnCount > maxColumns) throw new DatasetFormatError(`the dataset has more than ${maxColumns} columns (DATASET_MAX_COLUMNS)`, inference.rowCount + (format === 'csv' ? 1 : 0));
          yield JSON.stringify(Array.isArray(row) ? row : cellsOf(row, inference.columnNames)) + '\n';
        }
      }
      await pipeline(Readable.from(lines()), createWriteStream(join(tmp, ROWS)));
      if (inference.rowCount === 0) throw new DatasetFormatError('the dataset has no rows');
      const info: DatasetInfo = { id, name, format, rows: inference.rowCount, columns: inference.columns(), bytes: limited.bytes, createdAt: new Date().toISOString() };
      await writeFile(join(tmp, META), JSON.stringify(info, null, 2));
      return info;
    });
  }

  async get(id: string): Promise<DatasetInfo> {
    if (!isValidId(id)) throw new NotFoundError('dataset', id);
    try {
      return JSON.parse(await readFile(join(this.dir, id, META), 'utf8')) as DatasetInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('dataset', id);
      throw err;
    }
  }

  async list(): Promise<DatasetInfo[]> {
    await mkdir(this.dir, { recursive: true });
    const ids = (await readdir(this.dir)).filter(isValidId);
    const infos = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return infos.filter((i): i is DatasetInfo => i !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** Every row in memory, each cell turned into its column's type (numbers, booleans; missing → null). */
  async readRows(id: string): Promise<{ info: DatasetInfo; rows: Row[] }> {
    const { info, source } = await this.rowSource(id);
    const rows: Row[] = [];
    await source.scan((row) => void rows.push(row));
    return { info, rows };
  }

  /**
   * The rows as a source the engine scans once per pass, parsing each line as it goes: training
   * never holds the dataset as JS objects (a 100k × 784 dataset would need gigabytes of them).
   */
  async rowSource(id: string): Promise<{ info: DatasetInfo; source: RowSource }> {
    const info = await this.get(id);
    const file = join(this.dir, id, ROWS);
    const names = info.columns.map((c) => c.name);
    const types = info.columns.map((c) => c.type);
    const position = new Map(names.map((n, i) => [n, i]));
    /** Every line's cells, coerced, for the columns at `positions` (−1: not a column → null). */
    const scanPositions = async (positions: number[], visit: (cells: unknown[], index: number) => void) => {
      const cells = new Array<unknown>(positions.length);
      let index = 0;
      for await (const line of lines(file, id)) {
        const stored = JSON.parse(line) as unknown[] | Record<string, unknown>;
        const raw = Array.isArray(stored) ? stored : names.map((n) => (Object.hasOwn(stored, n) ? stored[n] : null));
        for (let c = 0; c < positions.length; c++) {
          const p = positions[c];
          const v = p >= 0 ? raw[p] : null;
          // Stored numbers are already numbers: only strings (CSV cells) and oddities need coercing.
          cells[c] = p >= 0 && (types[p] !== 'numeric' || typeof v !== 'number') ? coerceCell(types[p], v) : v ?? null;
        }
        visit(cells, index++);
      }
      if (index !== info.rows) throw new Error(`dataset '${id}' has ${index} rows on disk, its metadata says ${info.rows}`);
    };
    const source: RowSource = {
      count: info.rows,
      scanColumns: (columns, visit) => scanPositions(columns.map((c) => position.get(c) ?? -1), visit),
      scan: (visit) =>
        scanPositions(names.map((_, i) => i), (cells, index) => {
          const row: Row = Object.create(null); // every column an own key: no inherited member reads as a cell
          for (let i = 0; i < names.length; i++) row[names[i]] = cells[i];
          visit(row, index);
        }),
    };
    return { info, source };
  }
}

/**
 * An NDJSON row as stored: an array of the columns seen so far (an object per line parses ~7×
 * slower when read back).
 */
function cellsOf(row: Record<string, unknown>, names: readonly string[]): unknown[] {
  const cells = new Array<unknown>(names.length);
  for (let i = 0; i < names.length; i++) cells[i] = Object.hasOwn(row, names[i]) ? row[names[i]] : null;
  return cells;
}

/** The non-empty lines of a dataset's rows file; a file gone is the dataset gone. */
async function* lines(file: string, id: string): AsyncGenerator<string> {
  const input = createReadStream(file);
  await new Promise<void>((resolve, reject) => input.once('open', () => resolve()).once('error', reject)).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? new NotFoundError('dataset', id) : err;
  });
  for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line !== '') yield line;
}
