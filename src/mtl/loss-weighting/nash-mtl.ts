import type * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, gramMatrix, solveLinear, StepWeights, withTaskMatrix, type LossWeightingMethod, type LossWeightingState, type TaskGradients } from './loss-weighting.js';

export const NashMtlSchema = variantSchema(
  'strategy',
  'nash-mtl',
  {
    maxNorm: Type.Number({ minimum: 0, maximum: 1e6, default: 1, description: "the shared weights' gradient is clipped to this norm (0: no clipping)" }),
    iterations: Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: "the solver's iterations per step at most" }),
  },
  'Multi-task learning as a bargaining game (Navon 2022).',
);

/**
 * Nash-MTL (Navon et al. 2022): the Nash bargaining solution among the tasks, the weights α > 0
 * with Gᵀ G α = 1/α (each task's gradient has projection 1/α_t on the update Σ α_t g_t), from the
 * Gram matrix scaled to unit Frobenius norm as in the reference code (plus 1e-6 on its diagonal),
 * warm-started from the last step's α; our solver is damped Newton, the reference's a sequence of
 * convex programs (cvxpy). The training minimises Σ α_t w_t L_t (heads included, as in the reference) and the
 * shared weights' gradient is clipped to `maxNorm`. Records α.
 */
export class NashMtl extends StepWeights {
  override readonly needsTaskGradients = true;
  private alpha: number[];
  /** This step's Gram matrix, from `observe` to `combineGradients`. */
  private gram: number[][] | null = null;

  constructor(base: number[], private readonly maxNorm: number, private readonly iterations: number) {
    super(base);
    this.alpha = base.map(() => 1);
  }

  observe({ flat }: TaskGradients): void {
    const gram = withTaskMatrix(flat, (g) => gramMatrix(g, this.base));
    const frobenius = Math.sqrt(gram.flat().reduce((acc, v) => acc + v * v, 0));
    const active = gram.map((_, t) => t).filter((t) => gram[t][t] > 0);
    const alpha = this.base.map(() => 0);
    if (active.length > 0) {
      // A small ridge keeps α finite when a combination of the gradients cancels (g and −g): Φ would have no minimum.
      const sub = active.map((i) => active.map((j) => gram[i][j] / frobenius + (i === j ? 1e-6 : 0)));
      const start = active.map((t) => (this.alpha[t] > 0 ? this.alpha[t] : 1));
      const solved = nashWeights(sub, start, this.iterations);
      active.forEach((t, k) => (alpha[t] = solved[k]));
    }
    if (alpha.every(Number.isFinite)) this.alpha = alpha;
    this.current = this.alpha.map((a, t) => a * this.base[t]);
    this.report(this.alpha);
    this.gram = gram;
  }

  /** Σ α_t w_t g_t (what `combine` gives the shared weights), scaled down to norm `maxNorm` when longer. */
  combineGradients({ flat }: TaskGradients): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => {
      const gram = this.gram ?? gramMatrix(g, this.base);
      const norm = Math.sqrt(Math.max(this.alpha.reduce((acc, ai, i) => acc + ai * gram[i].reduce((inner, v, j) => inner + v * this.alpha[j], 0), 0), 0));
      const clip = this.maxNorm > 0 && norm > this.maxNorm ? this.maxNorm / norm : 1;
      return combineRows(g, this.current.map((w) => w * clip));
    });
  }

  override getState(): LossWeightingState {
    return { current: [...this.current], alpha: [...this.alpha] };
  }

  override setState(state: LossWeightingState): void {
    super.setState(state);
    if (state.alpha) this.alpha = [...state.alpha];
  }
}

/**
 * Solves M α = 1/α for α > 0 (M = Gᵀ G, symmetric positive semi-definite): the stationary point of
 * the strictly convex Φ(α) = ½ αᵀ M α − Σ log α_t, by damped Newton steps (Hessian M + diag(1/α²),
 * backtracking on Φ and staying positive), from `start`. Stops when ‖M α − 1/α‖ < 1e-10 or after
 * `iterations` steps.
 */
export function nashWeights(gram: number[][], start: number[], iterations = 20): number[] {
  const n = gram.length;
  let alpha = start.map((a) => (a > 0 && Number.isFinite(a) ? a : 1));
  const phi = (x: number[]) => 0.5 * x.reduce((acc, xi, i) => acc + xi * gram[i].reduce((inner, v, j) => inner + v * x[j], 0), 0) - x.reduce((acc, xi) => acc + Math.log(xi), 0);
  for (let iter = 0; iter < iterations; iter++) {
    const residual = alpha.map((a, i) => gram[i].reduce((acc, v, j) => acc + v * alpha[j], 0) - 1 / a);
    if (Math.sqrt(residual.reduce((acc, r) => acc + r * r, 0)) < 1e-10) break;
    const hessian = gram.map((row, i) => row.map((v, j) => v + (i === j ? 1 / (alpha[i] * alpha[i]) : 0)));
    const newton = solveLinear(hessian, residual.map((r) => -r));
    if (!newton) break;
    // The longest step that keeps every α positive, then halve until Φ decreases enough (Armijo).
    let step = 1;
    for (let i = 0; i < n; i++) if (newton[i] < 0) step = Math.min(step, (-0.99 * alpha[i]) / newton[i]);
    const slope = residual.reduce((acc, r, i) => acc + r * newton[i], 0);
    const before = phi(alpha);
    let next = alpha;
    for (let tries = 0; tries < 50; tries++, step /= 2) {
      const candidate = alpha.map((a, i) => a + step * newton[i]);
      if (phi(candidate) <= before + 1e-4 * step * slope) {
        next = candidate;
        break;
      }
    }
    if (next === alpha) break;
    alpha = next;
  }
  return alpha;
}

export const nashMtl: LossWeightingMethod<VariantOf<typeof NashMtlSchema>> = {
  schema: NashMtlSchema,
  create: (config, { weights }) => new NashMtl(weights, config.maxNorm, config.iterations),
};
