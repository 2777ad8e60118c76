/** Cell values as they come out of a dataset row or a predict instance. */
export type Scalar = string | number | boolean;
export type Cell = Scalar | null | Scalar[];
export type Row = Record<string, unknown>;

/** Texts that mean a missing cell (after trimming). */
export const MISSING_STRINGS: ReadonlySet<string> = new Set(['', 'NA', 'N/A', 'null', 'NULL', 'NaN']);

/** Empty cells, `NA` and `null` (and JSON null / absent) are missing values. */
export function isMissing(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value === 'string') return MISSING_STRINGS.has(value.trim());
  return false;
}

/** A finite number from a number, a numeric string or a boolean; undefined when it is none of these. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const s = value.trim();
    if (s === '') return undefined;
    const n = Number(s);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** The key a label or category is known by: its text. */
export function keyOf(value: Scalar): string {
  return String(value);
}

/** Multi-label cells: JSON arrays, or `a|b|c` strings (CSV). */
export function toLabelList(value: unknown): Scalar[] | undefined {
  if (Array.isArray(value)) return value.filter((v): v is Scalar => ['string', 'number', 'boolean'].includes(typeof v));
  if (typeof value === 'string') return value.split('|').map((s) => s.trim()).filter((s) => s !== '');
  if (typeof value === 'number' || typeof value === 'boolean') return [value];
  return undefined;
}

/** How much of a value error messages (and so answers and logs) echo. */
export const ECHO_CHARS = 200;

/** `text` cut to `max` characters, ending in '…' when it was longer. */
export function shorten(text: string, max = ECHO_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A value as an error message shows it: scalars as JSON, texts cut to ECHO_CHARS; lists and objects
 * by what they are (never serialised: one may be nested thousands of levels deep, or megabytes long).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value));
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  return shorten(String(value));
}
