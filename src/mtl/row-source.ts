import type { Row } from './values.js';

/**
 * The rows of a dataset as the engine reads them: a known count, and scans that visit every row in
 * the same order. A scan need not keep its rows, so a store can parse them from disk one at a time
 * and a dataset larger than the JS heap as objects still trains (see encodeDataset).
 */
export interface RowSource {
  readonly count: number;
  /** Every row as an object. */
  scan(visit: (row: Row, index: number) => void): Promise<void>;
  /**
   * Every row as the cells of `columns`, in that order (a missing cell is null or undefined). The
   * engine's scans use this: a store that keeps rows as arrays hands them over without building
   * an object of every column per row. The `cells` array may be reused between rows.
   */
  scanColumns(columns: readonly string[], visit: (cells: unknown[], index: number) => void): Promise<void>;
}

/** A source from a scan of row objects (its column scans pick the cells from each object). */
export function rowScanSource(count: number, scan: RowSource['scan']): RowSource {
  return {
    count,
    scan,
    scanColumns: (columns, visit) => {
      const cells: unknown[] = new Array(columns.length);
      return scan((row, i) => {
        for (let c = 0; c < columns.length; c++) cells[c] = row[columns[c]];
        visit(cells, i);
      });
    },
  };
}

/** In-memory rows as a source. */
export function rowsSource(rows: Row[]): RowSource {
  return rowScanSource(rows.length, async (visit) => rows.forEach((row, i) => visit(row, i)));
}

export function asRowSource(input: Row[] | RowSource): RowSource {
  return Array.isArray(input) ? rowsSource(input) : input;
}
