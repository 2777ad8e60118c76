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
  private buffers: tf.Tensor1D[] | null = null;
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
    const previous = this.buffers;
    const next = flat.map((g, t) =>
      tf.keep(tf.tidy(() => {
        const logGrad = tf.mul(g, this.current[t]);
        return (previous ? tf.add(tf.mul(logGrad, 1 - beta), tf.mul(previous[t], beta)) : tf.mul(logGrad, 1 - beta)) as tf.Tensor1D;
      })),
    );
    if (previous) tf.dispose(previous);
    this.buffers = next;
    const norms = tf.tidy(() => tf.norm(tf.stack(next), 'euclidean', 1).dataSync());
    const largest = Math.max(...norms);
    const alpha = Array.from(norms, (n) => largest / (n + EPS));
    this.report(alpha);
    return tf.tidy(() => tf.addN(next.map((b, t) => tf.mul(b, alpha[t]))) as tf.Tensor1D);
  }

  override getState(): LossWeightingState {
    return {
      current: [...this.current],
      step: this.step,
      // copies: the cpu-based backends hand out a tensor's own buffer
      buffers: this.buffers?.map((b) => Float32Array.from(b.dataSync() as Float32Array)),
    };
  }

  override setState(state: LossWeightingState): void {
    super.setState(state);
    if (state.step !== undefined) this.step = state.step;
    if (state.buffers) {
      if (this.buffers) tf.dispose(this.buffers);
      this.buffers = state.buffers.map((b) => tf.keep(tf.tensor1d(b.slice())));
    }
  }

  override dispose(): void {
    if (this.buffers) tf.dispose(this.buffers);
    this.buffers = null;
  }
}

export const dbMtl: LossWeightingMethod<VariantOf<typeof DbMtlSchema>> = {
  schema: DbMtlSchema,
  create: (config, { weights }) => new DbMtl(weights, config.beta, config.betaSigma),
};
