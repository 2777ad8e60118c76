import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ColumnInference, coerceCell, type ColumnInfo, type ColumnType } from '../mtl/column-inference.js';
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
 * Datasets on disk: `<dir>/<id>/rows.ndjson` (one JSON object a row, cells as uploaded) and
 * `dataset.json` (name, row count, inferred column types). An upload is parsed as it streams in
 * and appears only once it is complete.
 */
export class DatasetStore {
  constructor(private readonly dir: string) {}

  async create(name: string, format: TabularFormat, body: Readable, limits: number | DatasetLimits): Promise<DatasetInfo> {
    const { maxBytes, maxRows = Infinity, maxColumns = Infinity } = typeof limits === 'number' ? { maxBytes: limits } : limits;
    const id = newId();
    return writeDirAtomically(join(this.dir, id), async (tmp) => {
      const inference = new ColumnInference();
      const limited = new ByteLimit(maxBytes);
      body.on('error', (err) => limited.destroy(err));
      body.pipe(limited);
      const rows = parseRows(limited, format);
      async function* lines() {
        for await (const row of rows) {
          inference.add(row);
          if (inference.rowCount > maxRows) throw new PayloadTooLargeError(maxRows, `the dataset has more than ${maxRows} rows (DATASET_MAX_ROWS)`);
          if (inference.columnCount > maxColumns) throw new DatasetFormatError(`the dataset has more than ${maxColumns} columns (DATASET_MAX_COLUMNS)`, inference.rowCount + (format === 'csv' ? 1 : 0));
          yield JSON.stringify(row) + '\n';
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
    const decode = rowDecoder(info.columns);
    const scan = async (visit: (row: Row, index: number) => void) => {
      let index = 0;
      const input = createReadStream(file);
      const opened = new Promise<void>((resolve, reject) => input.once('open', () => resolve()).once('error', reject));
      await opened.catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new NotFoundError('dataset', id) : err;
      });
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (line === '') continue;
        visit(decode(line), index++);
      }
      if (index !== info.rows) throw new Error(`dataset '${id}' has ${index} rows on disk, its metadata says ${info.rows}`);
    };
    return { info, source: { count: info.rows, scan } };
  }
}

/**
 * Parses a stored line into a row, each cell coerced to its column's type in place (the parsed
 * object keeps V8's fast properties: a copy into a null-prototype object costs ~10× more). Columns
 * named like Object.prototype members (`constructor`, …) that a line lacks become own nulls, so
 * no row ever reads an inherited member as a cell.
 */
function rowDecoder(columns: ColumnInfo[]): (line: string) => Row {
  const types = new Map<string, ColumnType>(columns.map((c) => [c.name, c.type]));
  const inheritedNames = columns.map((c) => c.name).filter((name) => name in Object.prototype);
  return (line) => {
    const row = JSON.parse(line) as Row;
    for (const k of Object.keys(row)) {
      const type = types.get(k) ?? 'categorical';
      const v = row[k];
      // Stored numbers are already numbers: only strings (CSV cells) and oddities need coercing.
      if (type !== 'numeric' || typeof v !== 'number') row[k] = coerceCell(type, v);
    }
    for (const name of inheritedNames) if (!Object.hasOwn(row, name)) Object.defineProperty(row, name, { value: null, enumerable: true, writable: true, configurable: true });
    return row;
  };
}
