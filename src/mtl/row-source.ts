import type { Row } from './values.js';

/**
 * The rows of a dataset as the engine reads them: a known count, and scans that visit every row in
 * the same order. A scan need not keep its rows, so a store can parse them from disk one at a time
 * and a dataset larger than the JS heap as objects still trains (see encodeDataset).
 */
export interface RowSource {
  readonly count: number;
  scan(visit: (row: Row, index: number) => void): Promise<void>;
}

/** In-memory rows as a source. */
export function rowsSource(rows: Row[]): RowSource {
  return {
    count: rows.length,
    scan: async (visit) => rows.forEach((row, i) => visit(row, i)),
  };
}

export function asRowSource(input: Row[] | RowSource): RowSource {
  return Array.isArray(input) ? rowsSource(input) : input;
}
