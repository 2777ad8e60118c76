import type * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { weightedSum } from '../losses.js';
import { StepWeights, type LossWeightingMethod, type LossWeightingState } from './loss-weighting.js';

export const FamoSchema = variantSchema(
  'strategy',
  'famo',
  {
    weightLearningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.025, description: "step size β of the task logits' Adam" }),
    weightDecay: Type.Number({ minimum: 0, maximum: 10, default: 0.01, description: 'regularisation γ of the task logits (Adam weight decay)' }),
  },
  'Fast adaptive multitask optimisation: balanced loss decrease without task gradients (Liu 2023).',
);

/** Added to every loss before its logarithm, as in the reference code (the tasks' minimum losses are taken as 0). */
const EPS = 1e-8;

/**
 * FAMO (Liu et al. 2023): task logits ξ, z = softmax(ξ); the model descends Σ z_t log L_t / c with
 * c = Σ z_t / L_t, i.e. Σ w_t L_t with w_t = z_t / (c·L_t) at this step's losses (Σ w = 1; times
 * the static weights). After the update it measures the same batch's losses again (one forward
 * pass, no backward, as the reference code) and moves ξ with Adam (weight decay γ) along
 * ∇_ξ zᵀδ, δ_t = log L_t(before) − log L_t(after): a task whose loss fell faster than the others'
 * loses weight. No per-task gradients. Records the epoch's mean w.
 */
export class Famo extends StepWeights {
  private logits: number[];
  private readonly moments: NonNullable<LossWeightingState['moments']>;
  /** This step's losses before the update, from `combine` to `afterStep`. */
  private before: number[] | null = null;

  constructor(base: number[], private readonly learningRate: number, private readonly decay: number) {
    super(base);
    this.logits = base.map(() => 0);
    this.moments = { m: base.map(() => 0), v: base.map(() => 0), step: 0 };
  }

  override combine(losses: tf.Scalar[]): tf.Scalar {
    this.before = losses.map((l) => l.dataSync()[0]);
    this.current = famoLossWeights(this.logits, this.before).map((w, t) => w * this.base[t]);
    this.report(this.current);
    return weightedSum(losses, this.current);
  }

  afterStep(lossesAfterStep: () => number[]): void {
    if (!this.before) return;
    this.update(this.before, lossesAfterStep());
    this.before = null;
  }

  /** One Adam step of the logits from the losses of one batch before and after the model's update. */
  update(before: number[], after: number[]): void {
    const z = softmax(this.logits);
    // A task without labels in the batch (loss 0) has no loss to compare: δ = 0.
    const delta = before.map((b, t) => (b > 0 && after[t] > 0 ? Math.log(b + EPS) - Math.log(after[t] + EPS) : 0));
    const zDelta = z.reduce((acc, zt, t) => acc + zt * delta[t], 0);
    // ∇_ξ (zᵀδ) = z ⊙ (δ − zᵀδ) (the softmax's Jacobian), plus γξ (Adam's L2 weight decay, as torch's).
    const grads = z.map((zt, t) => zt * (delta[t] - zDelta) + this.decay * this.logits[t]);
    const { m, v } = this.moments;
    const step = ++this.moments.step;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    this.logits = this.logits.map((x, t) => {
      m[t] = b1 * m[t] + (1 - b1) * grads[t];
      v[t] = b2 * v[t] + (1 - b2) * grads[t] ** 2;
      const mHat = m[t] / (1 - b1 ** step);
      const vHat = v[t] / (1 - b2 ** step);
      return x - (this.learningRate * mHat) / (Math.sqrt(vHat) + eps);
    });
  }

  /** The task logits ξ. */
  taskLogits(): number[] {
    return [...this.logits];
  }

  override getState(): LossWeightingState {
    return { current: [...this.current], logits: [...this.logits], moments: structuredClone(this.moments) };
  }

  override setState(state: LossWeightingState): void {
    super.setState(state);
    if (state.logits) this.logits = [...state.logits];
    if (state.moments) Object.assign(this.moments, structuredClone(state.moments));
  }
}

/**
 * w_t = z_t / (c·L_t), c = Σ z_j / L_j, z = softmax(ξ): the gradient of Σ z_t log L_t / c is
 * Σ w_t ∇L_t. A task with loss 0 (no labels in the batch) gets weight 0 rather than all of it.
 */
export function famoLossWeights(logits: number[], losses: number[]): number[] {
  const z = softmax(logits);
  const ratio = z.map((zt, t) => (losses[t] > 0 ? zt / (losses[t] + EPS) : 0));
  const c = ratio.reduce((a, b) => a + b, 0);
  return ratio.map((r) => (c > 0 ? r / c : 0));
}

function softmax(x: number[]): number[] {
  const top = Math.max(...x);
  const e = x.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

export const famo: LossWeightingMethod<VariantOf<typeof FamoSchema>> = {
  schema: FamoSchema,
  create: (config, { weights }) => new Famo(weights, config.weightLearningRate, config.weightDecay),
};
