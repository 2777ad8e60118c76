import { ColumnInference } from '../../src/mtl/column-inference.js';
import { createRng } from '../../src/mtl/rng.js';
import type { DatasetSummary } from '../../src/mtl/spec-resolution.js';
import type { Row } from '../../src/mtl/values.js';

/** The numeric features of every impression: f0..f7. */
export const CLICK_FEATURES = Array.from({ length: 8 }, (_, j) => `f${j}`);
/** Device of the impression, a categorical feature. */
export const DEVICES = ['desktop', 'mobile', 'tablet'] as const;

export interface ClickConversionArgs {
  rows: number;
  seed: number;
  /** Conversions per click, on average (default 0.05). */
  conversionRate?: number;
}

/** One impression: features, the events, and the true probabilities behind them (for oracle metrics). */
export interface Impression extends Row {
  /** 1 when the impression was clicked. */
  click: number;
  /** 1 when it was clicked and then converted (0 on every other impression: the entire-space label). */
  conversion: number;
  /** The conversion label as a clicked-only dataset has it: missing (null) on impressions without a click. */
  conversion_clicked: number | null;
}

export interface ClickConversionData {
  rows: Impression[];
  summary: DatasetSummary;
  /** True p(click) and p(conversion | click) of each row. */
  truth: { click: Float64Array; conversionGivenClick: Float64Array };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Synthetic impressions for click → conversion cascades (ESMM, AITM). Features f0..f7 ~ N(0, 1)
 * and a device; click ~ Bernoulli(σ(−1.6 + 1.2·f0 + 0.8·f1 − 0.6·f2 + 0.4·mobile)) (about 22% of
 * impressions); a conversion can only follow a click, ~ Bernoulli(σ(c + 0.8·f0 + 1.0·f3 − 0.8·f4
 * + 0.5·tablet)), with c set so that conversions per click average `conversionRate`. So the
 * conversion depends partly on what drives the click (f0) and partly on its own features.
 * Seeded: the same arguments give the same rows.
 */
export function clickConversionRows({ rows: n, seed, conversionRate = 0.05 }: ClickConversionArgs): ClickConversionData {
  const rand = createRng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const features = Array.from({ length: n }, () => ({ f: CLICK_FEATURES.map(normal), device: DEVICES[Math.floor(rand() * DEVICES.length)] }));
  const click = Float64Array.from(features, ({ f, device }) => sigmoid(-1.6 + 1.2 * f[0] + 0.8 * f[1] - 0.6 * f[2] + (device === 'mobile' ? 0.4 : 0)));
  const own = Float64Array.from(features, ({ f, device }) => 0.8 * f[0] + 1.0 * f[3] - 0.8 * f[4] + (device === 'tablet' ? 0.5 : 0));
  // Conversions per click = Σ p(click)·p(conv | click) / Σ p(click): bisect the intercept to the target rate.
  const rateAt = (c: number) => {
    let num = 0;
    let den = 0;
    for (let r = 0; r < n; r++) {
      num += click[r] * sigmoid(c + own[r]);
      den += click[r];
    }
    return num / den;
  };
  let [lo, hi] = [-20, 5];
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (rateAt(mid) < conversionRate) lo = mid;
    else hi = mid;
  }
  const conversionGivenClick = Float64Array.from(own, (o) => sigmoid(lo + o));
  const rows: Impression[] = features.map(({ f, device }, r) => {
    const clicked = rand() < click[r] ? 1 : 0;
    const converted = clicked && rand() < conversionGivenClick[r] ? 1 : 0;
    const row: Impression = { click: clicked, conversion: converted, conversion_clicked: clicked ? converted : null, device };
    CLICK_FEATURES.forEach((name, j) => (row[name] = f[j]));
    return row;
  });
  const inference = new ColumnInference(Object.keys(rows[0]));
  rows.forEach((row) => inference.add(row));
  return { rows, summary: { id: 'clicks', name: 'clicks', rows: n, columns: inference.columns() }, truth: { click, conversionGivenClick } };
}
