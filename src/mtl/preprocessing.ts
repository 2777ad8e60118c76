import type { ResolvedSpec, TaskType } from './spec.js';
import { SpecError } from './spec-error.js';
import { describeValue, isMissing, keyOf, toLabelList, toNumber, type Row, type Scalar } from './values.js';

/** Learned on the training split and saved with the model, so serving encodes rows the same way. */
export type FeatureEncoder =
  | { name: string; type: 'numeric'; mean: number; std: number }
  | { name: string; type: 'categorical'; categories: string[] };

export type LabelEncoder =
  | { task: string; column: string; type: 'classification'; labels: Scalar[] }
  /** `dependsOn`: a cascaded task (cascade.ts); its prediction also has the conditional probability given that task. */
  | { task: string; column: string; type: 'binary'; labels: [Scalar, Scalar]; dependsOn?: string }
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

/** Fits the preprocessing on in-memory rows (see PreprocessingFit for rows that stream past). */
export function fitPreprocessing(spec: ResolvedSpec, rows: Row[]): Preprocessing {
  const fit = new PreprocessingFit(spec);
  const columns = encodedColumns(spec);
  for (const row of rows) fit.addCells(columns.map((c) => row[c]));
  return fit.result();
}

/** The columns encoding reads, in the order of a row's cells in addCells / writeCells / setCells. */
export function encodedColumns(spec: ResolvedSpec): string[] {
  return [...spec.features.map((f) => f.name), ...spec.tasks.map((t) => t.column)];
}

/**
 * Learns the preprocessing one row at a time, so a dataset can stream past it from disk: running
 * moments of numeric columns, counts of categories, the distinct labels of each task.
 */
export class PreprocessingFit {
  private readonly featureStats: (Moments | Map<string, number>)[];
  private readonly taskStats: (Moments | Map<string, Scalar>)[];

  constructor(private readonly spec: ResolvedSpec) {
    this.featureStats = spec.features.map((f) => (f.type === 'numeric' ? new Moments() : new Map<string, number>()));
    this.taskStats = spec.tasks.map((t) => (t.type === 'regression' ? new Moments() : new Map<string, Scalar>()));
  }

  /** One row as the cells of `encodedColumns(spec)`: the features', then the tasks'. */
  addCells(cells: unknown[]): void {
    const f = this.featureStats.length;
    for (let j = 0; j < f; j++) this.addFeature(j, cells[j]);
    for (let t = 0; t < this.taskStats.length; t++) this.addLabel(t, cells[f + t]);
  }

  private addFeature(j: number, v: unknown): void {
    const stats = this.featureStats[j];
    if (stats instanceof Moments) stats.add(v);
    else if (!isMissing(v) && typeof v !== 'object' && typeof v !== 'function') {
      const k = keyOf(v as Scalar);
      stats.set(k, (stats.get(k) ?? 0) + 1);
    }
  }

  private addLabel(t: number, v: unknown): void {
    const stats = this.taskStats[t];
    if (stats instanceof Moments) stats.add(v);
    else if (isMissing(v) || typeof v === 'function') return; // (functions: inherited members, not cells)
    else if (this.spec.tasks[t].type === 'multilabel') for (const l of toLabelList(v) ?? []) stats.set(keyOf(l), l);
    else if (typeof v !== 'object' && !stats.has(keyOf(v as Scalar))) stats.set(keyOf(v as Scalar), v as Scalar);
  }

  result(): Preprocessing {
    const features: FeatureEncoder[] = this.spec.features.map((f, j) => {
      const stats = this.featureStats[j];
      if (stats instanceof Moments) return { name: f.name, type: 'numeric', ...stats.meanStd() };
      return { name: f.name, type: 'categorical', categories: topCategories(stats) };
    });
    const tasks: LabelEncoder[] = this.spec.tasks.map((t, i) => {
      const stats = this.taskStats[i];
      if (stats instanceof Moments) return { task: t.name, column: t.column, type: 'regression', ...stats.meanStd() };
      const labels = sortLabels([...stats.values()]);
      switch (t.type) {
        case 'binary': {
          const encoder: LabelEncoder = { task: t.name, column: t.column, type: 'binary', labels: binaryLabels(labels, t.column, t.positiveLabel, `/tasks/${i}`) };
          return t.dependsOn !== undefined ? { ...encoder, dependsOn: t.dependsOn } : encoder;
        }
        case 'multilabel':
          return { task: t.name, column: t.column, type: 'multilabel', labels };
        default:
          return { task: t.name, column: t.column, type: 'classification', labels };
      }
    });
    return { features, tasks, inputSize: inputSizeOf(features) };
  }
}

/** Running mean and variance of a column's numbers (missing and non-numeric cells skipped). */
class Moments {
  private n = 0;
  private sum = 0;
  private sq = 0;

  add(value: unknown): void {
    const v = isMissing(value) ? undefined : toNumber(value);
    if (v === undefined) return;
    this.n++;
    this.sum += v;
    this.sq += v * v;
  }

  meanStd(): { mean: number; std: number } {
    const mean = this.n > 0 ? this.sum / this.n : 0;
    const variance = this.n > 0 ? Math.max(this.sq / this.n - mean * mean, 0) : 0;
    const std = Math.sqrt(variance);
    return { mean, std: std > 1e-8 ? std : 1 };
  }
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
  const writer = new FeatureWriter(prep, strict);
  for (let r = 0; r < rows.length; r++) writer.write(rows[r], r, out, r * prep.inputSize);
  return out;
}

/** Writes one row's encoded features into a buffer (see encodeFeatures). */
export class FeatureWriter {
  private readonly indexes: (Map<string, number> | undefined)[];

  constructor(private readonly prep: Preprocessing, private readonly strict = false) {
    this.indexes = prep.features.map((f) => (f.type === 'categorical' ? new Map(f.categories.map((c, i) => [c, i])) : undefined));
  }

  /** `r` is the row's number in error messages; `out` must be zero from `offset` for inputSize values. */
  write(row: Row, r: number, out: Float32Array, offset: number): void {
    const { features } = this.prep;
    for (let j = 0; j < features.length; j++) {
      const name = features[j].name;
      const value = row[name];
      // (Inherited members such as `constructor` are functions: they count as missing too.)
      if (this.strict && (value === undefined || typeof value === 'function') && !Object.prototype.hasOwnProperty.call(row, name)) throw new FeatureValueError(r, name, `feature '${name}' is missing`);
      offset = this.encode(j, value, r, out, offset);
    }
  }

  /** One row as cells, the features' first (see encodedColumns). */
  writeCells(cells: unknown[], r: number, out: Float32Array, offset: number): void {
    for (let j = 0; j < this.prep.features.length; j++) offset = this.encode(j, cells[j], r, out, offset);
  }

  /** Encodes feature j's value at `offset`; returns the offset after it. */
  private encode(j: number, value: unknown, r: number, out: Float32Array, offset: number): number {
    const f = this.prep.features[j];
    if (f.type === 'numeric') {
      // The common case first (serving hot path): a number is either finite or missing.
      if (typeof value === 'number') {
        if (Number.isFinite(value)) out[offset] = (value - f.mean) / f.std;
      } else if (!isMissing(value) && typeof value !== 'function') {
        const n = toNumber(value);
        if (n === undefined) throw new FeatureValueError(r, f.name, `feature '${f.name}' must be a number, got ${describeValue(value)}`);
        out[offset] = (n - f.mean) / f.std;
      }
      return offset + 1;
    }
    let slot = f.categories.length;
    if (!isMissing(value) && typeof value !== 'function') {
      if (typeof value === 'object') throw new FeatureValueError(r, f.name, `feature '${f.name}' must be a single value`);
      slot = this.indexes[j]!.get(keyOf(value as Scalar)) ?? f.categories.length;
    }
    out[offset + slot] = 1;
    return offset + f.categories.length + 1;
  }
}

/** Encodes every task's labels; a missing or unknown label masks that row out of the task's loss. */
export function encodeLabels(prep: Preprocessing, rows: Row[]): EncodedLabels[] {
  const buffers = new LabelBuffers(prep, rows.length);
  for (let r = 0; r < rows.length; r++) buffers.setCells(r, prep.tasks.map((t) => rows[r][t.column]), 0);
  return buffers.labels;
}

/** Every task's label and mask arrays for n rows, filled one row at a time (see encodeLabels). */
export class LabelBuffers {
  readonly labels: EncodedLabels[];
  private readonly indexes: Map<string, number>[];

  constructor(private readonly prep: Preprocessing, n: number) {
    this.labels = prep.tasks.map((enc) => {
      const width = headWidth(enc);
      const values = enc.type === 'multilabel' ? new Float32Array(n * width) : enc.type === 'classification' ? new Int32Array(n) : new Float32Array(n);
      return { task: enc.task, type: enc.type, values, mask: new Float32Array(n), width };
    });
    this.indexes = prep.tasks.map((enc) => (enc.type === 'regression' ? new Map() : new Map(enc.labels.map((l, i) => [keyOf(l), i]))));
  }

  /** One row as cells: task t's label is `cells[first + t]` (see encodedColumns). */
  setCells(r: number, cells: unknown[], first: number): void {
    for (let t = 0; t < this.labels.length; t++) this.setLabel(t, r, cells[first + t]);
  }

  private setLabel(t: number, r: number, cell: unknown): void {
    const enc = this.prep.tasks[t];
    const { values, mask, width } = this.labels[t];
    if (isMissing(cell) || typeof cell === 'function') return;
    if (enc.type === 'multilabel') {
      mask[r] = 1;
      for (const l of toLabelList(cell) ?? []) {
        const i = this.indexes[t].get(keyOf(l));
        if (i !== undefined) values[r * width + i] = 1;
      }
    } else if (enc.type === 'regression') {
      const v = toNumber(cell);
      if (v === undefined) return;
      mask[r] = 1;
      values[r] = (v - enc.mean) / enc.std;
    } else {
      if (typeof cell === 'object') return;
      const i = this.indexes[t].get(keyOf(cell as Scalar));
      if (i === undefined) return; // a label never seen in training: nothing to learn from it
      mask[r] = 1;
      values[r] = i;
    }
  }
}

function topCategories(counts: Map<string, number>): string[] {
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
function binaryLabels(labels: Scalar[], column: string, positive: Scalar | undefined, pointer: string): [Scalar, Scalar] {
  if (labels.length !== 2)
    throw new SpecError([{ pointer: `${pointer}/column`, detail: `binary task column '${column}' has ${labels.length} distinct labels in the training split, needs 2` }]);
  if (positive !== undefined) {
    const p = labels.find((l) => keyOf(l) === keyOf(positive));
    if (p === undefined) throw new SpecError([{ pointer: `${pointer}/positiveLabel`, detail: `${describeValue(positive)} is not a label of column '${column}'` }]);
    return labels[0] === p ? [labels[1], p] : [labels[0], p];
  }
  const positiveWords = new Set(['true', '1', 'yes', 'y', 'positive', 'pos']);
  const [a, b] = labels;
  if (positiveWords.has(keyOf(a).toLowerCase()) && !positiveWords.has(keyOf(b).toLowerCase())) return [b, a];
  return [a, b];
}
