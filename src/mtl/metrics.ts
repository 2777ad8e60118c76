import type { TaskType } from './spec.js';

export interface TaskMetrics {
  /** The task's headline metric: accuracy, auc, microF1 or rmse (see `metricName`). */
  metric: number | null;
  metricName: MetricName;
  accuracy?: number | null;
  auc?: number | null;
  microF1?: number | null;
  rmse?: number | null;
  r2?: number | null;
  /** Rows with a label for this task. */
  count: number;
}

export type MetricName = 'accuracy' | 'auc' | 'microF1' | 'rmse';

export const PRIMARY_METRIC: Record<TaskType, MetricName> = {
  classification: 'accuracy',
  binary: 'auc',
  multilabel: 'microF1',
  regression: 'rmse',
};

/** Whether a larger value of the metric is better (rmse is the one that is not). */
export function higherIsBetter(metric: MetricName): boolean {
  return metric !== 'rmse';
}

/** Fraction of labelled rows whose arg-max class equals the label. `probs` is n×k row-major. */
export function accuracy(probs: Float32Array, k: number, labels: ArrayLike<number>, mask: ArrayLike<number>): number | null {
  let right = 0;
  let n = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    n++;
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[r * k + j] > probs[r * k + best]) best = j;
    if (best === labels[r]) right++;
  }
  return n > 0 ? right / n : null;
}

/** Binary accuracy at threshold 0.5. */
export function binaryAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, mask: ArrayLike<number>): number | null {
  let right = 0;
  let n = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    n++;
    if ((scores[r] >= 0.5 ? 1 : 0) === labels[r]) right++;
  }
  return n > 0 ? right / n : null;
}

/** ROC AUC by ranks (Mann–Whitney U), ties sharing their mean rank. Null when one class is absent. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>, mask: ArrayLike<number>): number | null {
  const items: { s: number; y: number }[] = [];
  for (let r = 0; r < mask.length; r++) if (mask[r]) items.push({ s: scores[r], y: labels[r] });
  const pos = items.filter((i) => i.y === 1).length;
  const neg = items.length - pos;
  if (pos === 0 || neg === 0) return null;
  items.sort((a, b) => a.s - b.s);
  let rankSumPos = 0;
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j + 1 < items.length && items[j + 1].s === items[i].s) j++;
    const meanRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (items[t].y === 1) rankSumPos += meanRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Micro-averaged F1 over all (row, label) pairs of labelled rows, threshold 0.5. */
export function microF1(probs: Float32Array, k: number, labels: ArrayLike<number>, mask: ArrayLike<number>): number | null {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let rows = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    rows++;
    for (let j = 0; j < k; j++) {
      const p = probs[r * k + j] >= 0.5;
      const y = labels[r * k + j] === 1;
      if (p && y) tp++;
      else if (p) fp++;
      else if (y) fn++;
    }
  }
  if (rows === 0) return null;
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 1 : (2 * tp) / denom;
}

/** Root mean squared error and R² on labelled rows, in the target's own units. */
export function regressionMetrics(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number>): { rmse: number | null; r2: number | null } {
  let n = 0;
  let sum = 0;
  for (let r = 0; r < mask.length; r++) if (mask[r]) { n++; sum += target[r]; }
  if (n === 0) return { rmse: null, r2: null };
  const mean = sum / n;
  let sse = 0;
  let sst = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    sse += (pred[r] - target[r]) ** 2;
    sst += (target[r] - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / n), r2: sst > 0 ? 1 - sse / sst : null };
}
