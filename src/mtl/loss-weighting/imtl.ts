import type * as tf from '@tensorflow/tfjs';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, gramMatrix, solveLinear, solveOnActiveTasks, StepWeights, withTaskMatrix, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const ImtlSchema = variantSchema('strategy', 'imtl', {}, 'Impartial MTL, gradient part (IMTL-G, Liu 2021).');

/**
 * IMTL-G (Liu et al. 2021, "Towards impartial multi-task learning"): the weights α (Σα = 1) for
 * which the combined gradient g = Σ α_t g_t has the same projection on every task's unit gradient
 * u_t, in closed form: with D's rows g_1 − g_t and U's rows u_1 − u_t (t ≥ 2),
 * α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹ and α_1 = 1 − Σ α_{2..T}. On the weighted gradients w_t·g_t of the
 * shared weights; the heads train on Σ w_t L_t (IMTL-L's learned loss scales are not included).
 * Records α.
 */
export class Imtl extends StepWeights {
  override readonly needsTaskGradients = true;

  combineGradients({ flat }: TaskGradients): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => {
      const alpha = solveOnActiveTasks(gramMatrix(g, this.base), imtlWeights);
      this.report(alpha);
      return combineRows(g, alpha.map((a, t) => a * this.base[t]));
    });
  }
}

/** IMTL-G's α from the Gram matrix M = G Gᵀ (all in dot products: g_i·u_j = M_ij / ‖g_j‖); uniform when the system is singular. */
export function imtlWeights(gram: number[][]): number[] {
  const T = gram.length;
  const uniform = new Array<number>(T).fill(1 / T);
  if (T <= 1) return uniform;
  const norm = gram.map((row, t) => Math.sqrt(Math.max(row[t], 0)));
  if (norm.some((n) => !(n > 0))) return uniform;
  // a_j = g_1·(u_1 − u_j); K_ij = (g_1 − g_i)·(u_1 − u_j), for i, j = 2..T; solve x K = a.
  const a = Array.from({ length: T - 1 }, (_, j) => norm[0] - gram[0][j + 1] / norm[j + 1]);
  const k = Array.from({ length: T - 1 }, (_, i) =>
    Array.from({ length: T - 1 }, (_, j) => norm[0] - gram[0][j + 1] / norm[j + 1] - gram[i + 1][0] / norm[0] + gram[i + 1][j + 1] / norm[j + 1]),
  );
  const kTransposed = k.map((row, i) => row.map((_, j) => k[j][i]));
  const x = solveLinear(kTransposed, a);
  if (!x) return uniform;
  return [1 - x.reduce((p, q) => p + q, 0), ...x];
}

export const imtl: LossWeightingMethod<VariantOf<typeof ImtlSchema>> = {
  schema: ImtlSchema,
  create: (_config, { weights }) => new Imtl(weights),
};
