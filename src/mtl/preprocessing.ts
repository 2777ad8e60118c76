import type { ResolvedSpec, TaskType } from './spec.js';
import { SpecError } from './spec-error.js';
import { isMissing, keyOf, toLabelList, toNumber, type Row, type Scalar } from './values.js';

/** Learned on the training split and saved with the model, so serving encodes rows the same way. */
export type FeatureEncoder =
  | { name: string; type: 'numeric'; mean: number; std: number }
  | { name: string; type: 'categorical'; categories: string[] };

export type LabelEncoder =
  | { task: string; column: string; type: 'classification'; labels: Scalar[] }
  | { task: string; column: string; type: 'binary'; labels: [Scalar, Scalar] }
  | { task: string; column: string; type: 'multilabel'; labels: Scalar[] }
  | { task: string; column: string; type: 'regression'; mean: number; std: number };

export interface Preprocessing {
  features: FeatureEncoder[];
  tasks: LabelEncoder[];
  /** Width of the encoded input vector. */
  inputSize: number;
}

/** Labels of one task for a set of rows, with a mask that is 0 where the row has no label. */
export interface EncodedLabels {
  task: string;
  type: TaskType;
  /** classification: class index; binary: 0/1; regression: standardised target; multilabel: n×width 0/1. */
  values: Float32Array | Int32Array;
  mask: Float32Array;
  /** Output units of the task's head. */
  width: number;
}

/** A predict instance or dataset row whose feature cannot be encoded. */
export class FeatureValueError extends Error {
  constructor(readonly row: number, readonly feature: string, detail: string) {
    super(detail);
    this.name = 'FeatureValueError';
  }
}

const MAX_CATEGORIES = 256;

export function fitPreprocessing(spec: ResolvedSpec, rows: Row[]): Preprocessing {
  const features: FeatureEncoder[] = spec.features.map((f) => {
    if (f.type === 'numeric') {
      const { mean, std } = meanStd(rows, f.name);
      return { name: f.name, type: 'numeric', mean, std };
    }
    return { name: f.name, type: 'categorical', categories: topCategories(rows, f.name) };
  });
  const tasks: LabelEncoder[] = spec.tasks.map((t, i) => {
    switch (t.type) {
      case 'regression': {
        const { mean, std } = meanStd(rows, t.column);
        return { task: t.name, column: t.column, type: 'regression', mean, std };
      }
      case 'binary':
        return { task: t.name, column: t.column, type: 'binary', labels: binaryLabels(rows, t.column, t.positiveLabel, `/tasks/${i}`) };
      case 'classification':
        return { task: t.name, column: t.column, type: 'classification', labels: sortLabels(distinctLabels(rows, t.column)) };
      case 'multilabel': {
        const set = new Map<string, Scalar>();
        for (const r of rows) if (!isMissing(r[t.column])) for (const l of toLabelList(r[t.column]) ?? []) set.set(keyOf(l), l);
        return { task: t.name, column: t.column, type: 'multilabel', labels: sortLabels([...set.values()]) };
      }
    }
  });
  return { features, tasks, inputSize: inputSizeOf(features) };
}

export function inputSizeOf(features: FeatureEncoder[]): number {
  return features.reduce((n, f) => n + (f.type === 'numeric' ? 1 : f.categories.length + 1), 0);
}

export function headWidth(encoder: LabelEncoder): number {
  switch (encoder.type) {
    case 'classification':
    case 'multilabel':
      return encoder.labels.length;
    default:
      return 1;
  }
}

/**
 * Encodes rows into one row-major Float32Array of n × inputSize. Numeric features are
 * standardised (missing → the training mean, i.e. 0); categorical ones are one-hot with a last
 * slot for missing or unseen values. With `strict`, a row lacking a feature key is an error.
 */
export function encodeFeatures(prep: Preprocessing, rows: Row[], strict = false): Float32Array {
  const out = new Float32Array(rows.length * prep.inputSize);
  const indexes = prep.features.map((f) => (f.type === 'categorical' ? new Map(f.categories.map((c, i) => [c, i])) : undefined));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    let offset = r * prep.inputSize;
    for (let j = 0; j < prep.features.length; j++) {
      const f = prep.features[j];
      const value = row[f.name];
      // (Inherited members such as `constructor` are functions: they count as missing too.)
      if (strict && (value === undefined || typeof value === 'function') && !Object.prototype.hasOwnProperty.call(row, f.name)) throw new FeatureValueError(r, f.name, `feature '${f.name}' is missing`);
      if (f.type === 'numeric') {
        // The common case first (serving hot path): a number is either finite or missing.
        if (typeof value === 'number') {
          if (Number.isFinite(value)) out[offset] = (value - f.mean) / f.std;
        } else if (!isMissing(value)) {
          const n = toNumber(value);
          if (n === undefined) throw new FeatureValueError(r, f.name, `feature '${f.name}' must be a number, got ${JSON.stringify(value)}`);
          out[offset] = (n - f.mean) / f.std;
        }
        offset += 1;
      } else {
        let slot = f.categories.length;
        if (!isMissing(value)) {
          if (typeof value === 'object') throw new FeatureValueError(r, f.name, `feature '${f.name}' must be a single value`);
          slot = indexes[j]!.get(keyOf(value as Scalar)) ?? f.categories.length;
        }
        out[offset + slot] = 1;
        offset += f.categories.length + 1;
      }
    }
  }
  return out;
}

/** Encodes every task's labels; a missing or unknown label masks that row out of the task's loss. */
export function encodeLabels(prep: Preprocessing, rows: Row[]): EncodedLabels[] {
  return prep.tasks.map((enc) => {
    const n = rows.length;
    const width = headWidth(enc);
    const mask = new Float32Array(n);
    if (enc.type === 'multilabel') {
      const values = new Float32Array(n * width);
      const index = new Map(enc.labels.map((l, i) => [keyOf(l), i]));
      for (let r = 0; r < n; r++) {
        const cell = rows[r][enc.column];
        if (isMissing(cell)) continue;
        mask[r] = 1;
        for (const l of toLabelList(cell) ?? []) {
          const i = index.get(keyOf(l));
          if (i !== undefined) values[r * width + i] = 1;
        }
      }
      return { task: enc.task, type: enc.type, values, mask, width };
    }
    if (enc.type === 'regression') {
      const values = new Float32Array(n);
      for (let r = 0; r < n; r++) {
        const v = toNumber(rows[r][enc.column]);
        if (v === undefined || isMissing(rows[r][enc.column])) continue;
        mask[r] = 1;
        values[r] = (v - enc.mean) / enc.std;
      }
      return { task: enc.task, type: enc.type, values, mask, width };
    }
    const index = new Map(enc.labels.map((l, i) => [keyOf(l), i]));
    const values = enc.type === 'classification' ? new Int32Array(n) : new Float32Array(n);
    for (let r = 0; r < n; r++) {
      const cell = rows[r][enc.column];
      if (isMissing(cell) || typeof cell === 'object') continue;
      const i = index.get(keyOf(cell as Scalar));
      if (i === undefined) continue; // a label never seen in training: nothing to learn from it
      mask[r] = 1;
      values[r] = i;
    }
    return { task: enc.task, type: enc.type, values, mask, width };
  });
}

function meanStd(rows: Row[], column: string): { mean: number; std: number } {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (const r of rows) {
    const v = isMissing(r[column]) ? undefined : toNumber(r[column]);
    if (v === undefined) continue;
    n++;
    sum += v;
    sq += v * v;
  }
  const mean = n > 0 ? sum / n : 0;
  const variance = n > 0 ? Math.max(sq / n - mean * mean, 0) : 0;
  const std = Math.sqrt(variance);
  return { mean, std: std > 1e-8 ? std : 1 };
}

function distinctLabels(rows: Row[], column: string): Scalar[] {
  const seen = new Map<string, Scalar>();
  for (const r of rows) {
    const v = r[column];
    if (isMissing(v) || typeof v === 'object') continue;
    const s = v as Scalar;
    if (!seen.has(keyOf(s))) seen.set(keyOf(s), s);
  }
  return [...seen.values()];
}

function topCategories(rows: Row[], column: string): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const v = r[column];
    if (isMissing(v) || typeof v === 'object') continue;
    const k = keyOf(v as Scalar);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_CATEGORIES)
    .map(([k]) => k)
    .sort();
}

/** Numbers ascending, then everything else by its text: a stable, readable label order. */
export function sortLabels(labels: Scalar[]): Scalar[] {
  return [...labels].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** [negative, positive]: the given positive label, else true / 1 / yes / the later label. */
function binaryLabels(rows: Row[], column: string, positive: Scalar | undefined, pointer: string): [Scalar, Scalar] {
  const labels = sortLabels(distinctLabels(rows, column));
  if (labels.length !== 2)
    throw new SpecError([{ pointer: `${pointer}/column`, detail: `binary task column '${column}' has ${labels.length} distinct labels in the training split, needs 2` }]);
  if (positive !== undefined) {
    const p = labels.find((l) => keyOf(l) === keyOf(positive));
    if (p === undefined) throw new SpecError([{ pointer: `${pointer}/positiveLabel`, detail: `${JSON.stringify(positive)} is not a label of column '${column}'` }]);
    return labels[0] === p ? [labels[1], p] : [labels[0], p];
  }
  const positiveWords = new Set(['true', '1', 'yes', 'y', 'positive', 'pos']);
  const [a, b] = labels;
  if (positiveWords.has(keyOf(a).toLowerCase()) && !positiveWords.has(keyOf(b).toLowerCase())) return [b, a];
  return [a, b];
}
