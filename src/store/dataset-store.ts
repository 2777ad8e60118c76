import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ColumnInference, coerceCell, type ColumnInfo, type ColumnType } from '../mtl/column-inference.js';
import type { Row } from '../mtl/values.js';
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

  /** Every row, each cell turned into its column's type (numbers, booleans; missing → null). */
  async readRows(id: string): Promise<{ info: DatasetInfo; rows: Row[] }> {
    const info = await this.get(id);
    const types = new Map<string, ColumnType>(info.columns.map((c) => [c.name, c.type]));
    const rows: Row[] = [];
    const lines = createInterface({ input: createReadStream(join(this.dir, id, ROWS)), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      const raw = JSON.parse(line) as Record<string, unknown>;
      const row: Row = Object.create(null);
      for (const [k, v] of Object.entries(raw)) row[k] = coerceCell(types.get(k) ?? 'categorical', v);
      rows.push(row);
    }
    return { info, rows };
  }
}
