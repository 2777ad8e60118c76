import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { coerceCell, type ColumnInfo } from '../mtl/column-inference.js';
import type { RowSource } from '../mtl/row-source.js';
import type { Row } from '../mtl/values.js';
import { NotFoundError } from '../shared/not-found-error.js';

/**
 * The format of a dataset's `rows.ndjson`: one JSON array a row, the cells as uploaded in the order
 * of `dataset.json`'s columns; a shorter array lacks the columns after it. (An object per line
 * parses ~7× slower when read back; files written before this format hold objects and are still
 * read.)
 */
export function storedCells(row: Record<string, unknown>, names: readonly string[]): unknown[] {
  const cells = new Array<unknown>(names.length);
  for (let i = 0; i < names.length; i++) cells[i] = Object.hasOwn(row, names[i]) ? row[names[i]] : null;
  return cells;
}

interface StoredDataset {
  id: string;
  rows: number;
  columns: ColumnInfo[];
}

/** A dataset's rows file as a RowSource: each scan parses it line by line, cells coerced to their column's type. */
export function storedRowSource(open: () => Promise<Readable | undefined>, info: StoredDataset): RowSource {
  const names = info.columns.map((c) => c.name);
  const types = info.columns.map((c) => c.type);
  const position = new Map(names.map((n, i) => [n, i]));

  /** Every line's cells for the columns at `positions` (−1: not a column → null). */
  const scanPositions = async (positions: number[], visit: (cells: unknown[], index: number) => void) => {
    const cells = new Array<unknown>(positions.length);
    let index = 0;
    for await (const line of lines(open, info.id)) {
      const stored = JSON.parse(line) as unknown[] | Record<string, unknown>;
      const raw = Array.isArray(stored) ? stored : storedCells(stored, names);
      for (let c = 0; c < positions.length; c++) {
        const p = positions[c];
        const v = p >= 0 ? raw[p] : null;
        // Stored numbers are already numbers: only strings (CSV cells) and oddities need coercing.
        cells[c] = p >= 0 && (types[p] !== 'numeric' || typeof v !== 'number') ? coerceCell(types[p], v) : (v ?? null);
      }
      visit(cells, index++);
    }
    if (index !== info.rows) throw new Error(`dataset '${info.id}' has ${index} rows on disk, its metadata says ${info.rows}`);
  };

  return {
    count: info.rows,
    scanColumns: (columns, visit) => scanPositions(columns.map((c) => position.get(c) ?? -1), visit),
    scan: (visit) =>
      scanPositions(names.map((_, i) => i), (cells, index) => {
        const row: Row = Object.create(null); // every column an own key: no inherited member reads as a cell
        for (let i = 0; i < names.length; i++) row[names[i]] = cells[i];
        visit(row, index);
      }),
  };
}

/** The non-empty lines of a dataset's rows object; an object gone is the dataset gone. */
async function* lines(open: () => Promise<Readable | undefined>, id: string): AsyncGenerator<string> {
  const input = await open();
  if (input === undefined) throw new NotFoundError('dataset', id);
  for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line !== '') yield line;
}
