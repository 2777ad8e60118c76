import type { LabelEncoder, Preprocessing } from './preprocessing.js';
import type { EncodedSplit } from './evaluation.js';
import { higherIsBetter, type MetricName, type TaskMetrics } from './metrics.js';
import { taskMetrics } from './evaluation.js';

/**
 * Per-task linear references, solved to convergence in plain TypeScript on the encoded features the
 * model sees (numbers standardised on the training split, categories one-hot), so a reference's
 * weights are directly the kernel and bias of the task's `<task>_logits` layer on the input:
 *
 * - regression: ridge regression, min Σ (y − Xw − b)² + λ‖w‖² (the standardised target, intercept
 *   not penalised; scikit-learn's `Ridge(alpha=λ)`), by Cholesky on the centred normal equations;
 * - binary and multilabel (each label on its own): L2-regularised logistic regression,
 *   min Σ log-loss + λ/2 ‖w‖² (scikit-learn's `LogisticRegression(C=1/λ)`);
 * - classification: softmax (multinomial logistic) regression, min Σ cross-entropy + λ/2 ‖W‖²;
 *   both by L-BFGS to a gradient norm below 1e-7 (on the mean loss).
 *
 * λ is chosen on the validation split from LAMBDA_GRID, largest first, stopping after PATIENCE λ in
 * a row that are not better (ties go to the larger λ, the simpler model);
 * the metric is the task's headline metric as metrics.ts computes it. Cost: regression
 * O(n·d² + |grid|·d³); the others O(iterations · n · d · width) per λ, warm-started along the grid.
 */

/** The λ grid: 1e-4 … 1e3, a point per half decade. */
export const LAMBDA_GRID = Array.from({ length: 15 }, (_, i) => 10 ** (3 - i / 2));

/** The path from the largest λ down stops after this many λ in a row that are not better. */
export const PATIENCE = 3;

export interface LinearReferenceArgs {
  /** The task's label encoder (its type; the classes, or the regression target's mean and std for the metric). */
  task: LabelEncoder;
  /** Encoded features, row-major rows × cols (every row the index lists refer to). */
  x: Float32Array;
  cols: number;
  /** The task's encoded labels as the trainer uses them: class index, 0/1, rows × width 0/1 (multilabel) or the standardised target. */
  y: Float32Array | Int32Array;
  /** 1 where the row has a label. */
  mask: Float32Array;
  trainRows: number[];
  validationRows: number[];
  /** The λ candidates (default LAMBDA_GRID). */
  lambdas?: number[];
}

export interface LinearReference {
  metricName: MetricName;
  /** The headline metric on the validation rows (on the training rows when there are none). */
  value: number | null;
  /** Every metric of the chosen model on that split. */
  metrics: TaskMetrics;
  lambda: number;
  /** cols × width, row-major: the `<task>_logits` kernel. */
  weights: Float32Array;
  /** width: the `<task>_logits` bias. */
  bias: Float32Array;
  /** Which split `value` was measured on. */
  split: 'validation' | 'train';
}

/** Rows of one split that have a label: their features (float64) and labels. */
interface Rows {
  n: number;
  x: Float64Array;
  /** regression: targets; binary/multilabel: n × width 0/1; classification: class indices. */
  y: Float64Array;
  /** The labels and mask in the encoding taskMetrics reads (for the split's metric). */
  labels: Float32Array | Int32Array;
  mask: Float32Array;
}

export function fitLinearReference(args: LinearReferenceArgs): LinearReference {
  const { task, cols } = args;
  const width = task.type === 'classification' || task.type === 'multilabel' ? task.labels.length : 1;
  const train = gather(args, args.trainRows, width);
  const validationRows = gather(args, args.validationRows, width);
  const split = validationRows.n > 0 ? 'validation' : 'train';
  const judge = split === 'validation' ? validationRows : train;
  const lambdas = [...(args.lambdas ?? LAMBDA_GRID)].sort((a, b) => b - a);
  const fit = task.type === 'regression' ? ridgePath(train, cols, lambdas) : logisticPath(train, cols, width, task.type === 'classification', lambdas);
  let best: { lambda: number; params: Float64Array; metrics: TaskMetrics } | null = null;
  let worse = 0;
  for (const { lambda, params } of fit) {
    const metrics = taskMetrics(task, outputs(judge, params, cols, width, task.type), judge.labels, judge.mask);
    if (!best || better(metrics, best.metrics)) {
      best = { lambda, params, metrics };
      worse = 0;
    } else if (++worse >= PATIENCE) break; // smaller λ overfit more, and cost more iterations
  }
  const chosen = best!;
  return {
    metricName: chosen.metrics.metricName,
    value: chosen.metrics.metric,
    metrics: chosen.metrics,
    lambda: chosen.lambda,
    weights: Float32Array.from(chosen.params.subarray(0, cols * width)),
    bias: Float32Array.from(chosen.params.subarray(cols * width)),
    split,
  };
}

/** Strictly better headline metric (a null metric is never better). */
function better(a: TaskMetrics, b: TaskMetrics): boolean {
  if (a.metric === null) return false;
  if (b.metric === null) return true;
  return higherIsBetter(a.metricName) ? a.metric > b.metric : a.metric < b.metric;
}

function gather(args: LinearReferenceArgs, rows: number[], width: number): Rows {
  const { cols, task } = args;
  const labelled = rows.filter((r) => args.mask[r] > 0);
  const n = labelled.length;
  const x = new Float64Array(n * cols);
  const perRow = task.type === 'multilabel' ? width : 1;
  const y = new Float64Array(n * perRow);
  const labels = args.y instanceof Int32Array ? new Int32Array(n * perRow) : new Float32Array(n * perRow);
  labelled.forEach((r, i) => {
    for (let j = 0; j < cols; j++) x[i * cols + j] = args.x[r * cols + j];
    for (let k = 0; k < perRow; k++) {
      y[i * perRow + k] = args.y[r * perRow + k];
      labels[i * perRow + k] = args.y[r * perRow + k];
    }
  });
  return { n, x, y, labels, mask: new Float32Array(n).fill(1) };
}

/** The head's outputs on a split: probabilities (softmax / sigmoid) or the standardised values, as the model's serving head gives them. */
function outputs(s: Rows, params: Float64Array, cols: number, width: number, type: LabelEncoder['type']): Float32Array {
  const z = logits(s.x, s.n, params, cols, width);
  const out = new Float32Array(s.n * width);
  for (let i = 0; i < s.n; i++) {
    if (type === 'classification') {
      let max = -Infinity;
      for (let k = 0; k < width; k++) max = Math.max(max, z[i * width + k]);
      let sum = 0;
      for (let k = 0; k < width; k++) sum += Math.exp(z[i * width + k] - max);
      for (let k = 0; k < width; k++) out[i * width + k] = Math.exp(z[i * width + k] - max) / sum;
    } else {
      for (let k = 0; k < width; k++) out[i * width + k] = type === 'regression' ? z[i * width + k] : sigmoid(z[i * width + k]);
    }
  }
  return out;
}

/** X·W + b for params [W (cols × width, row-major), b (width)]. */
function logits(x: Float64Array, n: number, params: Float64Array, cols: number, width: number): Float64Array {
  const z = new Float64Array(n * width);
  const b = cols * width;
  for (let i = 0; i < n; i++) {
    const row = i * cols;
    const out = i * width;
    for (let k = 0; k < width; k++) z[out + k] = params[b + k];
    for (let j = 0; j < cols; j++) {
      const v = x[row + j];
      if (v === 0) continue;
      const w = j * width;
      for (let k = 0; k < width; k++) z[out + k] += v * params[w + k];
    }
  }
  return z;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

// ---- ridge regression ---------------------------------------------------------------------------

/** Ridge for each λ: centre X and y, G = XcᵀXc, r = Xcᵀyc, (G + λI) w = r by Cholesky, b = ȳ − x̄·w. */
function ridgePath(s: Rows, cols: number, lambdas: number[]): { lambda: number; params: Float64Array }[] {
  const { n, x, y } = s;
  const xMean = new Float64Array(cols);
  let yMean = 0;
  for (let i = 0; i < n; i++) {
    yMean += y[i];
    for (let j = 0; j < cols; j++) xMean[j] += x[i * cols + j];
  }
  if (n > 0) {
    yMean /= n;
    for (let j = 0; j < cols; j++) xMean[j] /= n;
  }
  const g = new Float64Array(cols * cols);
  const r = new Float64Array(cols);
  const xc = new Float64Array(cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) xc[j] = x[i * cols + j] - xMean[j];
    const yc = y[i] - yMean;
    for (let j = 0; j < cols; j++) {
      const v = xc[j];
      if (v === 0) continue;
      r[j] += v * yc;
      const row = j * cols;
      for (let l = j; l < cols; l++) g[row + l] += v * xc[l];
    }
  }
  for (let j = 0; j < cols; j++) for (let l = 0; l < j; l++) g[j * cols + l] = g[l * cols + j];
  return lambdas.map((lambda) => {
    const a = g.slice();
    for (let j = 0; j < cols; j++) a[j * cols + j] += lambda;
    const w = choleskySolve(a, r, cols);
    const params = new Float64Array(cols + 1);
    params.set(w);
    let b = yMean;
    for (let j = 0; j < cols; j++) b -= xMean[j] * w[j];
    params[cols] = b;
    return { lambda, params };
  });
}

/** Solves A w = r for a symmetric positive definite A (overwritten by its Cholesky factor). */
export function choleskySolve(a: Float64Array, r: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let diag = a[j * d + j];
    for (let k = 0; k < j; k++) diag -= a[j * d + k] * a[j * d + k];
    if (!(diag > 0)) throw new Error('choleskySolve: the matrix is not positive definite');
    const l = Math.sqrt(diag);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let v = a[i * d + j];
      for (let k = 0; k < j; k++) v -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = v / l;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let v = r[i];
    for (let k = 0; k < i; k++) v -= a[i * d + k] * z[k];
    z[i] = v / a[i * d + i];
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let v = z[i];
    for (let k = i + 1; k < d; k++) v -= a[k * d + i] * w[k];
    w[i] = v / a[i * d + i];
  }
  return w;
}

// ---- logistic and softmax regression -------------------------------------------------------------

/**
 * L2-regularised logistic (independent sigmoids, one per output) or softmax regression for each λ,
 * largest first, each warm-started from the previous solution. Objective on the mean:
 * (1/n) Σ loss + λ/(2n) ‖W‖² (bias free), the same minimiser as Σ loss + λ/2 ‖W‖².
 */
function* logisticPath(s: Rows, cols: number, width: number, softmax: boolean, lambdas: number[]): Generator<{ lambda: number; params: Float64Array }> {
  let start: Float64Array = new Float64Array(cols * width + width);
  for (const lambda of lambdas) {
    const objective = (p: Float64Array, grad: Float64Array) => logisticObjective(s, cols, width, softmax, lambda, p, grad);
    const params = lbfgs(objective, start);
    start = params;
    yield { lambda, params };
  }
}

function logisticObjective(s: Rows, cols: number, width: number, softmax: boolean, lambda: number, p: Float64Array, grad: Float64Array): number {
  const { n, x, y } = s;
  const scale = n > 0 ? 1 / n : 0;
  const z = logits(x, n, p, cols, width);
  grad.fill(0);
  let loss = 0;
  const b = cols * width;
  const residual = new Float64Array(width);
  for (let i = 0; i < n; i++) {
    if (softmax) {
      let max = -Infinity;
      for (let k = 0; k < width; k++) max = Math.max(max, z[i * width + k]);
      let sum = 0;
      for (let k = 0; k < width; k++) sum += Math.exp(z[i * width + k] - max);
      const label = y[i];
      loss += Math.log(sum) + max - z[i * width + label];
      for (let k = 0; k < width; k++) residual[k] = Math.exp(z[i * width + k] - max) / sum - (k === label ? 1 : 0);
    } else {
      for (let k = 0; k < width; k++) {
        const zi = z[i * width + k];
        const yi = y[i * width + k];
        loss += softplus(zi) - yi * zi;
        residual[k] = sigmoid(zi) - yi;
      }
    }
    const row = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = x[row + j];
      if (v === 0) continue;
      const w = j * width;
      for (let k = 0; k < width; k++) grad[w + k] += v * residual[k];
    }
    for (let k = 0; k < width; k++) grad[b + k] += residual[k];
  }
  let penalty = 0;
  for (let j = 0; j < b; j++) {
    penalty += p[j] * p[j];
    grad[j] = grad[j] * scale + lambda * scale * p[j];
  }
  for (let k = 0; k < width; k++) grad[b + k] *= scale;
  return loss * scale + 0.5 * lambda * scale * penalty;
}

/** Gradient norm (max over coordinates) at which L-BFGS stops. */
const GRADIENT_TOLERANCE = 1e-7;
const MAX_ITERATIONS = 2000;
const MEMORY = 10;

/** Limited-memory BFGS with a backtracking (Armijo) line search; minimises `f` from `start` (not modified). */
export function lbfgs(f: (p: Float64Array, grad: Float64Array) => number, start: Float64Array): Float64Array {
  const d = start.length;
  let p = start.slice();
  let g = new Float64Array(d);
  let value = f(p, g);
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  const rhos: number[] = [];
  const dir = new Float64Array(d);
  const alpha = new Float64Array(MEMORY);
  for (let iter = 0; iter < MAX_ITERATIONS; iter++) {
    let gmax = 0;
    for (let j = 0; j < d; j++) gmax = Math.max(gmax, Math.abs(g[j]));
    if (gmax < GRADIENT_TOLERANCE) break;
    // two-loop recursion: dir = −H·g
    for (let j = 0; j < d; j++) dir[j] = -g[j];
    for (let m = ss.length - 1; m >= 0; m--) {
      alpha[m] = rhos[m] * dot(ss[m], dir);
      axpy(-alpha[m], ys[m], dir);
    }
    if (ss.length > 0) {
      const last = ss.length - 1;
      const gamma = dot(ss[last], ys[last]) / dot(ys[last], ys[last]);
      for (let j = 0; j < d; j++) dir[j] *= gamma;
    } else {
      const norm = Math.sqrt(dot(g, g));
      for (let j = 0; j < d; j++) dir[j] /= Math.max(norm, 1);
    }
    for (let m = 0; m < ss.length; m++) {
      const beta = rhos[m] * dot(ys[m], dir);
      axpy(alpha[m] - beta, ss[m], dir);
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // not a descent direction (curvature trouble): restart from steepest descent
      ss.length = 0;
      ys.length = 0;
      rhos.length = 0;
      for (let j = 0; j < d; j++) dir[j] = -g[j];
      slope = -dot(g, g);
    }
    let step = 1;
    const next = new Float64Array(d);
    const nextGrad = new Float64Array(d);
    let nextValue = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      for (let j = 0; j < d; j++) next[j] = p[j] + step * dir[j];
      nextValue = f(next, nextGrad);
      if (nextValue <= value + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(nextValue <= value)) break; // no progress possible in float64
    const sv = new Float64Array(d);
    const yv = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      sv[j] = next[j] - p[j];
      yv[j] = nextGrad[j] - g[j];
    }
    const sy = dot(sv, yv);
    if (sy > 1e-12) {
      if (ss.length === MEMORY) {
        ss.shift();
        ys.shift();
        rhos.shift();
      }
      ss.push(sv);
      ys.push(yv);
      rhos.push(1 / sy);
    }
    const improvement = value - nextValue;
    p = next;
    g = nextGrad;
    value = nextValue;
    if (improvement <= 1e-16 * Math.max(1, Math.abs(value))) {
      let gm = 0;
      for (let j = 0; j < d; j++) gm = Math.max(gm, Math.abs(g[j]));
      if (gm < GRADIENT_TOLERANCE * 100) break;
    }
  }
  return p;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

/**
 * The linear reference of each task (or of the tasks named in `only`) on a trained split pair: the
 * training rows fit, the validation rows choose λ and give the metric.
 */
export function fitLinearReferences(prep: Preprocessing, train: EncodedSplit, validation: EncodedSplit | null, only?: ReadonlySet<string>): Record<string, LinearReference> {
  const cols = prep.inputSize;
  const nVal = validation?.rows ?? 0;
  const x = new Float32Array((train.rows + nVal) * cols);
  x.set(train.x.subarray(0, train.rows * cols));
  if (validation) x.set(validation.x.subarray(0, nVal * cols), train.rows * cols);
  const trainRows = Array.from({ length: train.rows }, (_, i) => i);
  const validationRows = Array.from({ length: nVal }, (_, i) => train.rows + i);
  const out: Record<string, LinearReference> = {};
  prep.tasks.forEach((task, t) => {
    if (only && !only.has(task.task)) return;
    const a = train.labels[t];
    const b = validation?.labels[t];
    const perRow = task.type === 'multilabel' ? a.width : 1;
    const y = a.values instanceof Int32Array ? new Int32Array((train.rows + nVal) * perRow) : new Float32Array((train.rows + nVal) * perRow);
    y.set(a.values.subarray(0, train.rows * perRow));
    if (b) y.set(b.values.subarray(0, nVal * perRow), train.rows * perRow);
    const mask = new Float32Array(train.rows + nVal);
    mask.set(a.mask.subarray(0, train.rows));
    if (b) mask.set(b.mask.subarray(0, nVal), train.rows);
    out[task.task] = fitLinearReference({ task, x, cols, y, mask, trainRows, validationRows });
  });
  return out;
}
