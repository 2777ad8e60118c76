import * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { StepWeights, type LossWeightingMethod, type LossWeightingState, type TaskGradients } from './loss-weighting.js';

export const DbMtlSchema = variantSchema(
  'strategy',
  'db-mtl',
  {
    beta: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: "β of the moving average of each task's gradient" }),
    betaSigma: Type.Number({ minimum: 0, maximum: 10, default: 0, description: 'decay σ of β: step k uses β / k^σ' }),
  },
  'Dual-balancing: log losses, gradients scaled to the largest norm (Lin 2023).',
);

/** Added to every loss before its logarithm, as in the reference code. */
const EPS = 1e-8;

/**
 * DB-MTL (Lin et al. 2023, "Dual-balancing for multi-task learning"). Loss scale: each task trains
 * on log(L_t + ε), whose gradient is ∇L_t / (L_t + ε) (the heads too: `current` = w_t / (L_t + ε)).
 * Gradient magnitude: on the shared weights, a moving average ĝ_t ← (1 − β_k)·∇log L_t + β_k·ĝ_t,
 * β_k = β / k^σ, of each task's (weighted) log-loss gradient; the update is Σ_t α_t ĝ_t with
 * α_t = max_j ‖ĝ_j‖ / ‖ĝ_t‖, every task's part as long as the longest. Keeps the averages (one
 * vector the size of the shared weights per task) in checkpoints. Records α.
 */
export class DbMtl extends StepWeights {
  override readonly needsTaskGradients = true;
  /** The moving averages, a row per task. */
  private averages: tf.Tensor2D | null = null;
  private step = 0;

  constructor(base: number[], private readonly beta: number, private readonly betaSigma: number) {
    super(base);
  }

  observe({ losses }: TaskGradients): void {
    this.current = losses.map((l, t) => this.base[t] / (Math.max(l, 0) + EPS));
  }

  combineGradients({ flat }: TaskGradients): tf.Tensor1D {
    this.step++;
    const beta = this.beta / this.step ** this.betaSigma;
    const T = flat.length;
    const previous = this.averages;
    // (1 − β_k)·diag(w_t / L_t)·G + β_k·previous: the rows of G scaled in one BLAS product.
    const next = tf.keep(
      tf.tidy(() => {
        const scale = tf.tensor2d(Array.from({ length: T * T }, (_, k) => (k % (T + 1) === 0 ? (1 - beta) * this.current[k / (T + 1)] : 0)), [T, T]);
        const logGradients = tf.matMul(scale, tf.stack(flat) as tf.Tensor2D);
        return previous ? tf.add(logGradients, tf.mul(previous, beta)) : logGradients;
      }) as tf.Tensor2D,
    );
    if (previous) previous.dispose();
    this.averages = next;
    const gram = tf.tidy(() => Array.from(tf.matMul(next, next, false, true).dataSync()));
    const norms = Array.from({ length: T }, (_, t) => Math.sqrt(Math.max(gram[t * (T + 1)], 0)));
    const largest = Math.max(...norms);
    const alpha = norms.map((n) => largest / (n + EPS));
    this.report(alpha);
    return tf.tidy(() => tf.matMul(tf.tensor2d(alpha, [1, T]), next).reshape([-1]) as tf.Tensor1D);
  }

  override getState(): LossWeightingState {
    const state: LossWeightingState = { current: [...this.current], step: this.step };
    if (this.averages) {
      const [T, P] = this.averages.shape;
      const values = this.averages.dataSync() as Float32Array;
      // copies: the cpu-based backends hand out a tensor's own buffer
      state.buffers = Array.from({ length: T }, (_, t) => values.slice(t * P, (t + 1) * P));
    }
    return state;
  }

  override setState(state: LossWeightingState): void {
    super.setState(state);
    if (state.step !== undefined) this.step = state.step;
    if (state.buffers && state.buffers.length > 0) {
      this.averages?.dispose();
      const P = state.buffers[0].length;
      const values = new Float32Array(state.buffers.length * P);
      state.buffers.forEach((b, t) => values.set(b, t * P));
      this.averages = tf.keep(tf.tensor2d(values, [state.buffers.length, P]));
    }
  }

  override dispose(): void {
    this.averages?.dispose();
    this.averages = null;
  }
}

export const dbMtl: LossWeightingMethod<VariantOf<typeof DbMtlSchema>> = {
  schema: DbMtlSchema,
  create: (config, { weights }) => new DbMtl(weights, config.beta, config.betaSigma),
};
