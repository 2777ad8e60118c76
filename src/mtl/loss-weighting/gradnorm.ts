import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { FixedWeights, gramMatrix, withTaskMatrix, type LossWeightingMethod, type LossWeightingState, type TaskGradients } from './loss-weighting.js';

export const GradNormSchema = variantSchema(
  'strategy',
  'gradnorm',
  { alpha: Type.Number({ minimum: 0, maximum: 10, default: 1.5, description: 'restoring force α' }) },
  'Learned weights balancing gradient norms (Chen 2018).',
);

/**
 * GradNorm (Chen et al. 2018): weights w_t learned so that each task's weighted gradient norm on
 * the shared weights, w_t·‖∇L_t‖, moves toward mean_j(w_j‖∇L_j‖) · r_t^α, where r_t is the task's
 * loss ratio L_t/L_t(0) relative to the mean ratio. Weights are renormalised to sum to Σ static weights.
 */
export class GradNormWeights extends FixedWeights {
  override readonly needsTaskGradients = true;
  private initialLosses: number[] | null = null;
  private readonly moments: NonNullable<LossWeightingState['moments']>;

  constructor(base: number[], private readonly alpha: number, private readonly learningRate: number) {
    super(base);
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

  observe({ flat, losses }: TaskGradients): void {
    // From the Gram matrix's diagonal: one product instead of a norm (pow, abs, sum) per task.
    const gram = withTaskMatrix(flat, (g) => gramMatrix(g, flat.map(() => 1)));
    const norms = gram.map((row, t) => Math.sqrt(Math.max(row[t], 0)));
    this.update(losses, norms);
  }

  /**
   * One GradNorm update of the weights from this step's task losses and the norms of their
   * (unweighted) gradients on the shared weights. Returns the GradNorm loss Σ|w_t·n_t − target_t|.
   */
  update(losses: number[], gradNorms: number[]): number {
    if (!this.initialLosses) this.initialLosses = losses.map((l) => (l > 0 ? l : 1));
    const T = losses.length;
    const ratio = losses.map((l, t) => l / this.initialLosses![t]);
    const meanRatio = ratio.reduce((a, b) => a + b, 0) / T;
    const weighted = gradNorms.map((n, t) => this.current[t] * n);
    const meanNorm = weighted.reduce((a, b) => a + b, 0) / T;
    const target = ratio.map((r) => meanNorm * Math.pow(r / meanRatio, this.alpha));
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
      return Math.max(w - (this.learningRate * mHat) / (Math.sqrt(vHat) + eps), 1e-3);
    });
    const total = this.base.reduce((a, b) => a + b, 0);
    const sum = this.current.reduce((a, b) => a + b, 0);
    this.current = this.current.map((w) => (w * total) / sum);
    return gradLoss;
  }
}

export const gradnorm: LossWeightingMethod<VariantOf<typeof GradNormSchema>> = {
  schema: GradNormSchema,
  takesTaskGradients: true,
  create: (config, { weights, learningRate }) => new GradNormWeights(weights, config.alpha, learningRate),
};
