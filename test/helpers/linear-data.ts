import { createRng } from '../../src/mtl/rng.js';
import type { LinearReferenceArgs } from '../../src/mtl/linear-reference.js';
import type { LabelEncoder } from '../../src/mtl/preprocessing.js';

/** Standard normal draws from a seeded stream (Box–Muller). */
export function gaussian(seed: number): () => number {
  const rng = createRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/**
 * Rows × cols strongly collinear numeric features (rank-`rank` latent factors plus 5% noise) and
 * targets linear in them: `y` (regression, with noise of standard deviation `noise`), `binary` (0/1 from a noisy linear score),
 * `classes` (one of three, the arg-max of three noisy linear scores) and `tags` (three 0/1 labels).
 */
export function collinearData(rows: number, cols: number, seed: number, rank = 5, noise = 0.3): { x: Float32Array; y: Float64Array; binary: Int32Array; classes: Int32Array; tags: Int32Array } {
  const g = gaussian(seed);
  const loadings = Array.from({ length: rank * cols }, g);
  const beta = Array.from({ length: cols }, () => g() / Math.sqrt(cols));
  const scores = Array.from({ length: 3 * cols }, () => g() / Math.sqrt(cols));
  const x = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  const binary = new Int32Array(rows);
  const classes = new Int32Array(rows);
  const tags = new Int32Array(rows * 3);
  for (let i = 0; i < rows; i++) {
    const z = Array.from({ length: rank }, g);
    for (let j = 0; j < cols; j++) {
      let v = 0.05 * g();
      for (let k = 0; k < rank; k++) v += z[k] * loadings[k * cols + j];
      x[i * cols + j] = v;
    }
    let lin = 0;
    const s = [0, 0, 0];
    for (let j = 0; j < cols; j++) {
      lin += x[i * cols + j] * beta[j];
      for (let c = 0; c < 3; c++) s[c] += x[i * cols + j] * scores[c * cols + j];
    }
    y[i] = lin + noise * g();
    binary[i] = lin + 0.5 * g() > 0 ? 1 : 0;
    const noisy = s.map((v) => v + 0.7 * g());
    classes[i] = noisy.indexOf(Math.max(...noisy));
    for (let c = 0; c < 3; c++) tags[i * 3 + c] = s[c] + 0.5 * g() > 0 ? 1 : 0;
  }
  return { x, y, binary, classes, tags };
}

/**
 * The cases scripts/linear-reference-check.ts compares with scikit-learn (and test/mtl/linear-reference.test.ts
 * pins): 300 rows, the first 240 for training, features standardised on them; ridge on 100 collinear
 * features, logistic / softmax / multi-label on 20.
 */
export function referenceCases(): { cases: { name: string; kind: string; args: Omit<LinearReferenceArgs, 'lambdas'> }[]; yMean: number; yStd: number; TRAIN: number } {
  const ROWS = 300;
  const TRAIN = 240;
  const cols = { regression: 100, other: 20 };

  function standardise(x: Float32Array, d: number): Float32Array {
    const out = new Float32Array(x.length);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < TRAIN; i++) m += x[i * d + j];
      m /= TRAIN;
      let v = 0;
      for (let i = 0; i < TRAIN; i++) v += (x[i * d + j] - m) ** 2;
      const s = Math.sqrt(v / TRAIN) || 1;
      for (let i = 0; i < ROWS; i++) out[i * d + j] = (x[i * d + j] - m) / s;
    }
    return out;
  }

  const trainRows = Array.from({ length: TRAIN }, (_, i) => i);
  const validationRows = Array.from({ length: ROWS - TRAIN }, (_, i) => TRAIN + i);
  const reg = collinearData(ROWS, cols.regression, 11);
  const oth = collinearData(ROWS, cols.other, 12);
  const regX = standardise(reg.x, cols.regression);
  const othX = standardise(oth.x, cols.other);
  let yMean = 0;
  for (let i = 0; i < TRAIN; i++) yMean += reg.y[i];
  yMean /= TRAIN;
  let yStd = 0;
  for (let i = 0; i < TRAIN; i++) yStd += (reg.y[i] - yMean) ** 2;
  yStd = Math.sqrt(yStd / TRAIN);

  const cases: { name: string; kind: string; args: Omit<LinearReferenceArgs, 'lambdas'> }[] = [
    { name: 'ridge', kind: 'regression', args: { task: { task: 'y', column: 'y', type: 'regression', mean: yMean, std: yStd }, x: regX, cols: cols.regression, y: Float32Array.from(reg.y, (v) => (v - yMean) / yStd), mask: new Float32Array(ROWS).fill(1), trainRows, validationRows } },
    { name: 'logistic', kind: 'binary', args: { task: { task: 'b', column: 'b', type: 'binary', labels: [0, 1] }, x: othX, cols: cols.other, y: Float32Array.from(oth.binary), mask: new Float32Array(ROWS).fill(1), trainRows, validationRows } },
    { name: 'softmax', kind: 'classification', args: { task: { task: 'c', column: 'c', type: 'classification', labels: [0, 1, 2] }, x: othX, cols: cols.other, y: Int32Array.from(oth.classes), mask: new Float32Array(ROWS).fill(1), trainRows, validationRows } },
    { name: 'multilabel', kind: 'multilabel', args: { task: { task: 't', column: 't', type: 'multilabel', labels: [0, 1, 2] } as LabelEncoder, x: othX, cols: cols.other, y: Float32Array.from(oth.tags), mask: new Float32Array(ROWS).fill(1), trainRows, validationRows } },
  ];
  return { cases, yMean, yStd, TRAIN };
}
