/** Small statistics helpers shared by the benchmarks, so every script means the same thing by "median". */

/** The median of `xs`: the middle value, or the average of the two middle values for an even count; NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of values already sorted ascending; NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `x` rounded to `digits` decimal places (2 by default). */
export function roundTo(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
