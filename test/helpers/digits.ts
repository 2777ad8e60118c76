import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ColumnInference, coerceCell } from '../../src/mtl/column-inference.js';
import type { Row } from '../../src/mtl/values.js';
import type { DatasetSummary } from '../../src/mtl/spec-resolution.js';

/** scikit-learn's 8×8 digits (1,797 real scans, BSD licence) with derived task columns: see README.md, "Quick start". */
export const DIGITS_CSV = fileURLToPath(new URL('../../examples/digits.csv', import.meta.url));
export const PIXELS = Array.from({ length: 64 }, (_, i) => `p${i}`);

/** The digits dataset as typed rows, parsed the way the store parses it. */
export function loadDigits(): { rows: Row[]; summary: DatasetSummary } {
  const [head, ...lines] = readFileSync(DIGITS_CSV, 'utf8').trim().split('\n');
  const header = head.split(',');
  const raw = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
  const inference = new ColumnInference(header);
  raw.forEach((r) => inference.add(r));
  const columns = inference.columns();
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const rows = raw.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, coerceCell(types.get(k)!, v)])));
  return { rows, summary: { id: 'digits', name: 'digits', rows: rows.length, columns } };
}
