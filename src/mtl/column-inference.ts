import { isMissing, MISSING_STRINGS, toLabelList, toNumber } from './values.js';

export type ColumnType = 'numeric' | 'categorical' | 'boolean' | 'multilabel' | 'empty';

export interface ColumnInfo {
  name: string;
  type: ColumnType;
  /** Rows where the cell is missing (empty, NA, null). */
  missing: number;
  /**
   * Distinct non-missing values, counted up to `DISTINCT_CAP` (then `distinctCapped` is true). For a
   * multilabel column: distinct single labels (`a|b` and `b` count `a` and `b`), not their combinations.
   */
  distinct: number;
  distinctCapped: boolean;
  /** Up to 20 of the distinct values (single labels for a multilabel column), for a quick look; texts cut to `SAMPLE_CHARS` (see `sampleValue`). */
  sample: (string | number | boolean)[];
  min?: number;
  max?: number;
}

export const DISTINCT_CAP = 1000;
/** Longest text kept in a column's sample: a sample is for a quick look, not a copy of the cells. */
export const SAMPLE_CHARS = 48;
/** Texts longer than this are counted as distinct by a hash of their text, not kept whole. */
const DISTINCT_KEY_CHARS = 64;
const BOOLEAN_STRINGS = new Set(['true', 'false', 'TRUE', 'FALSE', 'True', 'False']);

/** Streams over rows once and infers each column's type from what it saw. */
export class ColumnInference {
  private readonly stats = new Map<string, ColumnStats>();
  private readonly names: string[] = [];
  private rows = 0;

  constructor(columns: string[] = []) {
    for (const c of columns) this.addColumn(c);
  }

  private addColumn(name: string): ColumnStats {
    const s = new ColumnStats(name);
    this.stats.set(name, s);
    this.names.push(name);
    return s;
  }

  add(row: Record<string, unknown>): void {
    this.rows++;
    const keys = Object.keys(row);
    for (const name of keys) {
      let s = this.stats.get(name);
      if (!s) {
        s = this.addColumn(name);
        s.missing = this.rows - 1; // rows before this column appeared lacked it
      }
      s.add(row[name]);
    }
    // Every key is a column: a row with as many keys as there are columns lacks none.
    if (keys.length < this.stats.size) for (const s of this.stats.values()) if (!Object.hasOwn(row, s.name)) s.missing++;
  }

  /** One row as cells in the order of the columns given to the constructor (a CSV record). */
  addCells(cells: readonly unknown[]): void {
    this.rows++;
    for (let i = 0; i < cells.length; i++) this.stats.get(this.names[i])!.add(cells[i]);
  }

  get rowCount(): number {
    return this.rows;
  }

  get columnCount(): number {
    return this.stats.size;
  }

  /** The columns seen so far, in the order of columns() (first appearance). */
  get columnNames(): readonly string[] {
    return this.names;
  }

  columns(): ColumnInfo[] {
    return [...this.stats.values()].map((s) => s.info());
  }
}

class ColumnStats {
  missing = 0;
  present = 0;
  numeric = 0;
  booleans = 0;
  lists = 0;
  min = Infinity;
  max = -Infinity;
  readonly distinct = new Set<string>();
  readonly sample: (string | number | boolean)[] = [];
  capped = false;
  /** Single labels, should the column turn out multilabel: every cell split as toLabelList splits it. */
  readonly labels = new Set<string>();
  readonly labelSample: (string | number | boolean)[] = [];
  labelsCapped = false;

  constructor(readonly name: string) {}

  add(value: unknown): void {
    if (typeof value === 'string') return this.addText(value);
    if (isMissing(value)) {
      this.missing++;
      return;
    }
    this.present++;
    if (Array.isArray(value)) this.lists++;
    this.addLabels(value);
    if (typeof value === 'boolean') this.booleans++;
    else if (typeof value === 'number') this.addNumber(value);
    this.addDistinct(typeof value === 'object' ? distinctKey(JSON.stringify(value)) : String(value), value);
  }

  /** A text cell (every CSV cell): the checks of add(), trimming once. */
  private addText(value: string): void {
    const t = value.trim();
    if (MISSING_STRINGS.has(t)) {
      this.missing++;
      return;
    }
    this.present++;
    if (value.includes('|')) this.lists++;
    this.addLabels(value);
    if (BOOLEAN_STRINGS.has(t)) this.booleans++;
    else {
      const n = Number(t);
      if (Number.isFinite(n)) this.addNumber(n);
    }
    this.addDistinct(distinctKey(value), value);
  }

  private addNumber(n: number): void {
    this.numeric++;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
  }

  private addDistinct(key: string, value: unknown): void {
    if (!this.distinct.has(key)) {
      if (this.distinct.size >= DISTINCT_CAP) this.capped = true;
      else {
        this.distinct.add(key);
        if (this.sample.length < 20 && (typeof value !== 'object' || value === null)) this.sample.push(sampleValue(value as string | number | boolean));
      }
    }
  }

  private addLabels(value: unknown): void {
    if (this.labelsCapped) return;
    for (const label of toLabelList(value) ?? []) {
      const key = distinctKey(String(label));
      if (this.labels.has(key)) continue;
      if (this.labels.size >= DISTINCT_CAP) {
        this.labelsCapped = true;
        return;
      }
      this.labels.add(key);
      if (this.labelSample.length < 20) this.labelSample.push(sampleValue(label));
    }
  }

  info(): ColumnInfo {
    let type: ColumnType;
    if (this.present === 0) type = 'empty';
    else if (this.numeric === this.present) type = 'numeric';
    else if (this.booleans === this.present) type = 'boolean';
    else if (this.lists > 0) type = 'multilabel';
    else type = 'categorical';
    const info: ColumnInfo = {
      name: this.name,
      type,
      missing: this.missing,
      distinct: this.distinct.size,
      distinctCapped: this.capped,
      sample: type === 'numeric' ? this.sample.map((v) => toNumber(v) ?? v) : this.sample,
    };
    if (type === 'multilabel') Object.assign(info, { distinct: this.labels.size, distinctCapped: this.labelsCapped, sample: this.labelSample });
    if (type === 'numeric') {
      info.min = this.min;
      info.max = this.max;
    }
    return info;
  }
}

/**
 * A value as a column's sample shows it: a text longer than SAMPLE_CHARS is cut there and ends in
 * '…' (a long number is kept as the number). Also applied to samples read back from datasets stored
 * before samples were cut.
 */
export function sampleValue(value: string | number | boolean): string | number | boolean {
  if (typeof value !== 'string' || value.length <= SAMPLE_CHARS) return value;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : `${value.slice(0, SAMPLE_CHARS - 1)}…`;
}

/** What a distinct value is counted by: short texts themselves, long ones their length and a 53-bit hash (1,000 distinct 1 MB cells would otherwise be held whole). */
function distinctKey(text: string): string {
  if (text.length <= DISTINCT_KEY_CHARS) return text;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `\u0000${text.length}:${(h2 >>> 0).toString(36)}${(h1 >>> 0).toString(36)}`;
}

/** Turns a stored cell into the typed value its column holds (CSV cells arrive as strings). */
export function coerceCell(type: ColumnType, value: unknown): unknown {
  if (isMissing(value)) return null;
  switch (type) {
    case 'numeric':
      return toNumber(value) ?? null;
    case 'boolean':
      return typeof value === 'boolean' ? value : String(value).trim().toLowerCase() === 'true';
    default:
      return value;
  }
}
