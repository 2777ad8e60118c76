import * as tf from '@tensorflow/tfjs';
import type { ResolvedLossWeighting, TaskType } from './spec.js';
import { weightedSum } from './losses.js';

/**
 * How the task losses become one training signal. `sum` strategies (static, dwa, uncertainty)
 * minimise a weighted sum; `pcgrad` and `gradnorm` also need each task's gradient on the shared
 * weights every step (see trainer.ts).
 */
export interface LossWeighting {
  readonly strategy: ResolvedLossWeighting['strategy'];
  readonly mode: 'sum' | 'pcgrad' | 'gradnorm';
  /** Trainable variables of the strategy itself, optimised with the model (uncertainty's log-variances). */
  readonly variables: tf.Variable[];
  /** Called before each epoch with every finished epoch's mean training loss per task. */
  startEpoch(taskLossHistory: number[][]): void;
  /** The scalar to minimise from the per-task mean losses (inside the gradient tape). */
  combine(losses: tf.Scalar[]): tf.Scalar;
  /** The weight each task's loss has now, as recorded in the history. */
  currentWeights(): number[];
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
}

export interface LossWeightingArgs {
  config: ResolvedLossWeighting;
  /** The tasks' static weights (spec `weight`), which every strategy starts from. */
  weights: number[];
  types: TaskType[];
}

export function createLossWeighting({ config, weights, types }: LossWeightingArgs): LossWeighting {
  switch (config.strategy) {
    case 'static':
      return new FixedWeights('static', 'sum', weights);
    case 'pcgrad':
      return new FixedWeights('pcgrad', 'pcgrad', weights);
    case 'dwa':
      return new DynamicWeightAverage(weights, config.temperature);
    case 'uncertainty':
      return new UncertaintyWeighting(weights, types);
    case 'gradnorm':
      return new GradNormWeights(weights);
  }
}

/** Σ w_t · L_t with weights that change only when a strategy sets them. */
class FixedWeights implements LossWeighting {
  readonly variables: tf.Variable[] = [];
  protected current: number[];

  constructor(readonly strategy: LossWeighting['strategy'], readonly mode: LossWeighting['mode'], protected readonly base: number[]) {
    this.current = [...base];
  }

  startEpoch(_history: number[][]): void {}

  combine(losses: tf.Scalar[]): tf.Scalar {
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

/**
 * Dynamic Weight Average (Liu et al. 2019): w_t = T · softmax_t(r_t / temperature) with
 * r_t = L_t(e−1) / L_t(e−2), the rate at which each task's loss fell; 1 for the first two epochs.
 * Multiplied by the static weights.
 */
export class DynamicWeightAverage extends FixedWeights {
  constructor(base: number[], private readonly temperature: number) {
    super('dwa', 'sum', base);
  }

  override startEpoch(history: number[][]): void {
    this.current = [...this.base];
    if (history.length < 2) return;
    const last = history[history.length - 1];
    const before = history[history.length - 2];
    const ratios = last.map((l, t) => (before[t] > 0 && Number.isFinite(l / before[t]) ? l / before[t] : 1));
    const exps = ratios.map((r) => Math.exp(r / this.temperature));
    const total = exps.reduce((a, b) => a + b, 0);
    this.current = exps.map((e, t) => (this.base[t] * this.base.length * e) / total);
  }
}

/**
 * Homoscedastic uncertainty weighting (Kendall et al. 2018) with s_t = log σ_t²:
 * regression 0.5·e^(−s)·L + 0.5·s, classification-like e^(−s)·L + 0.5·s.
 */
export class UncertaintyWeighting implements LossWeighting {
  readonly strategy = 'uncertainty' as const;
  readonly mode = 'sum' as const;
  readonly variables: tf.Variable[];
  private readonly scale: number[];

  constructor(base: number[], types: TaskType[]) {
    // Made inside tidy so the initial scalars go; the variables themselves are disposed by dispose().
    this.variables = types.map((_, t) => tf.tidy(() => tf.variable(tf.scalar(0), true, `uncertainty_log_var_${t}_${Math.random().toString(36).slice(2, 8)}`)));
    this.scale = types.map((type, t) => (type === 'regression' ? 0.5 : 1) * base[t]);
  }

  startEpoch(): void {}

  combine(losses: tf.Scalar[]): tf.Scalar {
    return tf.tidy(() =>
      losses.reduce<tf.Scalar>((acc, l, t) => {
        const s = this.variables[t];
        return tf.add(acc, tf.add(tf.mul(tf.mul(tf.exp(tf.neg(s)), l), this.scale[t]), tf.mul(s, 0.5)));
      }, tf.scalar(0)),
    );
  }

  currentWeights(): number[] {
    return this.variables.map((s, t) => this.scale[t] * Math.exp(-s.dataSync()[0]));
  }

  /** log σ_t² per task, as learned. */
  logVariances(): number[] {
    return this.variables.map((s) => s.dataSync()[0]);
  }

  getState(): LossWeightingState {
    return { logVariances: this.logVariances() };
  }

  setState(state: LossWeightingState): void {
    tf.tidy(() => state.logVariances?.forEach((v, t) => this.variables[t].assign(tf.scalar(v))));
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/**
 * GradNorm (Chen et al. 2018): weights w_t learned so that each task's weighted gradient norm on
 * the shared weights, w_t·‖∇L_t‖, moves toward mean_j(w_j‖∇L_j‖) · r_t^α, where r_t is the task's
 * loss ratio L_t/L_t(0) relative to the mean ratio. Weights are renormalised to sum to Σ static weights.
 */
export class GradNormWeights extends FixedWeights {
  private initialLosses: number[] | null = null;
  private readonly moments: NonNullable<LossWeightingState['moments']>;

  constructor(base: number[]) {
    super('gradnorm', 'gradnorm', base);
    this.moments = { m: base.map(() => 0), v: base.map(() => 0), step: 0 };
  }

  override getState(): LossWeightingState {
    return { current: [...this.current], initialLosses: this.initialLosses, moments: structuredClone(this.moments) };
  }

  override setState(state: LossWeightingState): void {
    super.setState(state);
    if (state.initialLosses !== undefined) this.initialLosses = state.initialLosses;
    if (state.moments) Object.assign(this.moments, structuredClone(state.moments));
  }

  /**
   * One GradNorm update of the weights from this step's task losses and the norms of their
   * (unweighted) gradients on the shared weights. Returns the GradNorm loss Σ|w_t·n_t − target_t|.
   */
  update(losses: number[], gradNorms: number[], alpha: number, learningRate: number): number {
    if (!this.initialLosses) this.initialLosses = losses.map((l) => (l > 0 ? l : 1));
    const T = losses.length;
    const ratio = losses.map((l, t) => l / this.initialLosses![t]);
    const meanRatio = ratio.reduce((a, b) => a + b, 0) / T;
    const weighted = gradNorms.map((n, t) => this.current[t] * n);
    const meanNorm = weighted.reduce((a, b) => a + b, 0) / T;
    const target = ratio.map((r) => meanNorm * Math.pow(r / meanRatio, alpha));
    const gradLoss = weighted.reduce((acc, g, t) => acc + Math.abs(g - target[t]), 0);
    // d/dw_t Σ|w_t n_t − target_t| with the targets held constant, as in the paper; then an Adam step.
    const grads = weighted.map((g, t) => Math.sign(g - target[t]) * gradNorms[t]);
    const { m, v } = this.moments;
    const step = ++this.moments.step;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    this.current = this.current.map((w, t) => {
      m[t] = b1 * m[t] + (1 - b1) * grads[t];
      v[t] = b2 * v[t] + (1 - b2) * grads[t] ** 2;
      const mHat = m[t] / (1 - b1 ** step);
      const vHat = v[t] / (1 - b2 ** step);
      return Math.max(w - (learningRate * mHat) / (Math.sqrt(vHat) + eps), 1e-3);
    });
    const total = this.base.reduce((a, b) => a + b, 0);
    const sum = this.current.reduce((a, b) => a + b, 0);
    this.current = this.current.map((w) => (w * total) / sum);
    return gradLoss;
  }
}

/**
 * PCGrad (Yu et al. 2020): for each task gradient g_i, for the other tasks j in random order, if
 * g_i·g_j < 0 remove from g_i its component along g_j. Returns Σ_i g_i (projected). Inputs are
 * flat gradient vectors of the shared weights.
 */
export function projectConflictingGradients(grads: tf.Tensor1D[], rng: () => number): tf.Tensor1D {
  return tf.tidy(() => {
    const norms = grads.map((g) => tf.sum(tf.square(g)));
    const projected = grads.map((gi, i) => {
      let g = gi;
      const order = grads.map((_, j) => j).filter((j) => j !== i);
      for (let k = order.length - 1; k > 0; k--) {
        const r = Math.floor(rng() * (k + 1));
        [order[k], order[r]] = [order[r], order[k]];
      }
      for (const j of order) {
        const dot = tf.sum(tf.mul(g, grads[j]));
        const coef = tf.where(tf.less(dot, 0), tf.div(dot, tf.maximum(norms[j], 1e-20)), tf.scalar(0));
        g = tf.sub(g, tf.mul(coef, grads[j]));
      }
      return g;
    });
    return tf.addN(projected) as tf.Tensor1D;
  });
}
