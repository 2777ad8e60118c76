import * as tf from '@tensorflow/tfjs';
import type { TObject } from '@sinclair/typebox';
import type { TaskType } from '../spec-fields.js';
import { weightedSum } from '../losses.js';

/**
 * Each task's gradient of its own (unweighted) mean loss on the model's shared variables,
 * flattened, from one backward pass per task; computed once per step and given to every part of
 * the step that needs it (the strategy, task affinity).
 */
export interface TaskGradients {
  flat: tf.Tensor1D[];
  losses: number[];
}

/**
 * How the task losses become one training signal: one file behind this interface plus one line in
 * the registry (loss-weighting/index.ts). Every step the trainer asks `combine` for the scalar to
 * minimise; a strategy that declares `needsTaskGradients` also gets each task's gradient on the
 * shared variables first (`observe`) and may replace their combined gradient (`combineGradients`);
 * one that needs the losses after the update too measures them in `afterStep`.
 */
export interface LossWeighting {
  /** Trainable variables of the strategy itself, optimised with the model (uncertainty's log-variances). */
  readonly variables: tf.Variable[];
  /** Whether every step needs each task's gradient on the shared variables (GradNorm, PCGrad, MGDA, …). */
  readonly needsTaskGradients: boolean;
  /** Called before each epoch with every finished epoch's mean training loss per task. */
  startEpoch(taskLossHistory: number[][]): void;
  /** Called once a step, before `combine`, with the task gradients (only when `needsTaskGradients`). */
  observe?(gradients: TaskGradients): void;
  /**
   * The scalar to minimise from the per-task mean losses (inside the gradient tape); its gradient
   * must be Σ_t currentWeights()_t · ∇L_t. `rng` is the step's seeded random stream (RLW's draws).
   */
  combine(losses: tf.Scalar[], rng: () => number): tf.Scalar;
  /**
   * The shared variables' gradient from the task gradients, flattened, replacing Σ w_t g_t (the
   * gradient of `combine` there); `rng` is the step's seeded random stream. Absent: `combine`'s gradient is kept.
   */
  combineGradients?(gradients: TaskGradients, rng: () => number): tf.Tensor1D;
  /**
   * Called once a step after the update, with a way to measure each task's loss on the same batch
   * with the updated weights (one forward pass, paid only when called): FAMO's "loss after the step".
   */
  afterStep?(lossesAfterStep: () => number[]): void;
  /** The weight each task's loss has now in `combine`, as recorded in the history unless `epochWeights` says otherwise. */
  currentWeights(): number[];
  /**
   * The weights to record for the epoch just run, for strategies whose weights change every step
   * (the mean over the epoch's steps). Absent: the history records `currentWeights()` at the start of the epoch.
   */
  epochWeights?(): number[];
  /** Everything needed to continue after a restart (checkpoints). */
  getState(): LossWeightingState;
  setState(state: LossWeightingState): void;
  dispose(): void;
}

export interface LossWeightingState {
  current?: number[];
  logVariances?: number[];
  initialLosses?: number[] | null;
  moments?: { m: number[]; v: number[]; step: number };
  /** FAMO's task logits ξ. */
  logits?: number[];
  /** Nash-MTL's last solution (the next step's starting point). */
  alpha?: number[];
  /** DB-MTL's moving averages of each task's gradient on the shared variables, and its step count. */
  buffers?: Float32Array[];
  step?: number;
}

/** What a strategy is built from besides its own spec parameters. */
export interface LossWeightingContext {
  /** The tasks' static weights (spec `weight`), which every strategy starts from. */
  weights: number[];
  types: TaskType[];
  /** The training's learning rate (GradNorm learns its weights at this rate). */
  learningRate: number;
}

/** A registry entry: the spec's `lossWeighting` object for this strategy (variantSchema), and how to build the strategy from it. */
export interface LossWeightingMethod<C> {
  readonly schema: TObject;
  create(config: C, context: LossWeightingContext): LossWeighting;
  /** Whether its strategies take each task's gradient every step (`needsTaskGradients`): the memory estimate counts them. */
  readonly takesTaskGradients?: boolean;
}

/** Σ w_t · L_t with weights that change only when a strategy sets them; the base of the strategies that only set weights. */
export class FixedWeights implements LossWeighting {
  readonly variables: tf.Variable[] = [];
  readonly needsTaskGradients: boolean = false;
  protected current: number[];

  constructor(protected readonly base: number[]) {
    this.current = [...base];
  }

  startEpoch(_history: number[][]): void {}

  combine(losses: tf.Scalar[], _rng?: () => number): tf.Scalar {
    return weightedSum(losses, this.current);
  }

  currentWeights(): number[] {
    return [...this.current];
  }

  getState(): LossWeightingState {
    return { current: [...this.current] };
  }

  setState(state: LossWeightingState): void {
    if (state.current) this.current = [...state.current];
  }

  dispose(): void {}
}

/** The mean of the weights a strategy used on each step of an epoch (the history's `weights` for per-step strategies). */
export class EpochMeanWeights {
  private sum: number[] | null = null;
  private steps = 0;

  reset(): void {
    this.sum = null;
    this.steps = 0;
  }

  add(weights: number[]): void {
    this.sum = this.sum ? this.sum.map((s, t) => s + weights[t]) : [...weights];
    this.steps++;
  }

  /** null before the first step. */
  mean(): number[] | null {
    return this.sum ? this.sum.map((s) => s / this.steps) : null;
  }
}

/**
 * The base of the strategies that set new weights every step (MGDA, CAGrad, IMTL, Nash-MTL,
 * Aligned-MTL, DB-MTL from the task gradients; FAMO, RLW from the losses): `combine` keeps
 * Σ w_t L_t with the static weights (what the task heads train on, as in LibMTL) unless a strategy
 * sets `current`, and the history records the epoch's mean of the weights each step reported.
 */
export abstract class StepWeights extends FixedWeights {
  protected readonly meter = new EpochMeanWeights();

  override startEpoch(_history: number[][]): void {
    this.meter.reset();
  }

  /** Records one step's weights for the epoch's mean. */
  protected report(weights: number[]): void {
    this.meter.add(weights);
  }

  epochWeights(): number[] {
    return this.meter.mean() ?? this.currentWeights();
  }
}

/**
 * Runs `use` with the task gradients stacked as one matrix G (a row per task, one copy), and frees
 * G after: the Gram matrix and the combination Σ k_t g_t are then one BLAS product each.
 */
export function withTaskMatrix<R>(flat: tf.Tensor1D[], use: (g: tf.Tensor2D) => R): R {
  const g = tf.stack(flat) as tf.Tensor2D;
  try {
    return use(g);
  } finally {
    g.dispose();
  }
}

/** The Gram matrix G Gᵀ (T×T, as numbers) of the task gradient matrix, with G's rows scaled by `scale` (the static weights). */
export function gramMatrix(g: tf.Tensor2D, scale: number[]): number[][] {
  const T = g.shape[0];
  const values = tf.tidy(() => Array.from(tf.matMul(g, g, false, true).dataSync()));
  return Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => values[i * T + j] * scale[i] * scale[j]));
}

/** Σ_t coefficients_t · g_t over the rows of the task gradient matrix. */
export function combineRows(g: tf.Tensor2D, coefficients: number[]): tf.Tensor1D {
  return tf.tidy(() => tf.matMul(tf.tensor2d(coefficients, [1, coefficients.length]), g).reshape([-1]) as tf.Tensor1D);
}

/**
 * Solves a weight problem on the tasks whose gradient is not zero (a task without labels in the
 * batch has none and takes no part: weight 0), and puts the other tasks' weights back in place.
 */
export function solveOnActiveTasks(gram: number[][], solve: (gram: number[][]) => number[]): number[] {
  const active = gram.map((_, t) => t).filter((t) => gram[t][t] > 0);
  const weights = gram.map(() => 0);
  if (active.length === 0) return weights;
  const sub = solve(active.map((i) => active.map((j) => gram[i][j])));
  active.forEach((t, k) => (weights[t] = sub[k]));
  return weights;
}

/** Solves A x = b by Gaussian elimination with partial pivoting; null when A is (numerically) singular. */
export function solveLinear(matrix: number[][], rhs: number[]): number[] | null {
  const n = rhs.length;
  const m = matrix.map((row, i) => [...row, rhs[i]]);
  const scale = Math.max(...matrix.flat().map(Math.abs), 1e-300);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) <= 1e-12 * scale) return null;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let c = r + 1; c < n; c++) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return x;
}
