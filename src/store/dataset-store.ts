import { Readable } from 'node:stream';
import { ColumnInference, sampleValue, type ColumnInfo, type ColumnType } from '../mtl/column-inference.js';
import type { Row } from '../mtl/values.js';
import type { RowSource } from '../mtl/row-source.js';
import type { ObjectStore } from './object-store.js';
import { FileObjectStore } from './file-object-store.js';
import { storedCells, storedRowSource } from './stored-rows.js';
import { isValidId, newId } from '../shared/ids.js';
import { ByteLimit, MAX_RECORD_CHARS, parseRows, type TabularFormat } from './tabular-parser.js';
import { DatasetFormatError, PayloadTooLargeError } from './store-errors.js';
import { NotFoundError } from '../shared/not-found-error.js';

export interface DatasetLimits {
  maxBytes: number;
  maxRows?: number;
  maxColumns?: number;
  /** Longest CSV record or NDJSON line, in characters (default: MAX_RECORD_CHARS, 1 Mi). */
  maxRecordChars?: number;
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

/** A dataset in a list: what it is without its columns (GET /v1/datasets/:id has those). */
export interface DatasetSummary {
  id: string;
  name: string;
  format: TabularFormat;
  rows: number;
  bytes: number;
  createdAt: string;
  columnCount: number;
  /** How many columns of each type. */
  columnTypes: Partial<Record<ColumnType, number>>;
}

const META = 'dataset.json';
const ROWS = 'rows.ndjson';

/** Rows are handed to the store in pieces of about this many characters (not a write per row). */
const PIECE_CHARS = 64 * 1024;

/**
 * Datasets in the object store: `<id>/rows.ndjson` (one JSON array a row, see stored-rows.ts) and
 * `<id>/dataset.json` (name, row count, inferred column types), the manifest, written last. An
 * upload is parsed as it streams in (and streamed on to the store) and appears only once it is
 * complete. A string is a directory on disk (the `file://` backend).
 */
export class DatasetStore {
  private readonly store: ObjectStore;

  constructor(dirOrStore: string | ObjectStore) {
    this.store = typeof dirOrStore === 'string' ? new FileObjectStore(dirOrStore) : dirOrStore;
  }

  async create(name: string, format: TabularFormat, body: Readable, limits: number | DatasetLimits): Promise<DatasetInfo> {
    const { maxBytes, maxRows = Infinity, maxColumns = Infinity, maxRecordChars = MAX_RECORD_CHARS } = typeof limits === 'number' ? { maxBytes: limits } : limits;
    const id = newId();
    return this.store.publish(id, META, async (group) => {
      let inference = new ColumnInference();
      const limited = new ByteLimit(maxBytes);
      body.on('error', (err) => limited.destroy(err));
      body.pipe(limited);
      const rows = parseRows(limited, format, maxRecordChars);
      let header = format === 'csv';
      async function* lines() {
        let piece = '';
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
          piece += JSON.stringify(Array.isArray(row) ? row : storedCells(row, inference.columnNames)) + '\n';
          if (piece.length >= PIECE_CHARS) {
            yield Buffer.from(piece);
            piece = '';
          }
        }
        if (piece !== '') yield Buffer.from(piece);
      }
      await group.put(ROWS, Readable.from(lines()));
      if (inference.rowCount === 0) throw new DatasetFormatError('the dataset has no rows');
      const info: DatasetInfo = { id, name, format, rows: inference.rowCount, columns: inference.columns(), bytes: limited.bytes, createdAt: new Date().toISOString() };
      return { value: info, manifest: JSON.stringify(info, null, 2) };
    });
  }

  async get(id: string): Promise<DatasetInfo> {
    if (!isValidId(id)) throw new NotFoundError('dataset', id);
    const bytes = await this.store.get(`${id}/${META}`);
    if (bytes === undefined) throw new NotFoundError('dataset', id);
    const info = JSON.parse(bytes.toString('utf8')) as DatasetInfo;
    // Datasets stored before samples were cut may hold whole cells there: show them cut too.
    for (const c of info.columns) c.sample = c.sample.map(sampleValue);
    return info;
  }

  /** Every dataset as a summary (newest first): a list stays small however wide the datasets are. */
  async list(): Promise<DatasetSummary[]> {
    const ids = (await this.store.list()).filter(isValidId);
    const infos = await Promise.all(ids.map((id) => this.get(id).then(summaryOf, () => undefined)));
    return infos.filter((i): i is DatasetSummary => i !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Gone at once for every reader (renamed out of the way / its manifest deleted first), then removed. */
  async delete(id: string): Promise<void> {
    await this.get(id);
    if (!(await this.store.unpublish(id, META))) throw new NotFoundError('dataset', id);
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
    return { info, source: storedRowSource(() => this.store.read(`${id}/${ROWS}`), info) };
  }
}

function summaryOf({ id, name, format, rows, bytes, createdAt, columns }: DatasetInfo): DatasetSummary {
  const columnTypes: Partial<Record<ColumnType, number>> = {};
  for (const c of columns) columnTypes[c.type] = (columnTypes[c.type] ?? 0) + 1;
  return { id, name, format, rows, bytes, createdAt, columnCount: columns.length, columnTypes };
}
