import type * as tf from '@tensorflow/tfjs';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, FixedWeights, gramMatrix, withTaskMatrix, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const PcGradSchema = variantSchema('strategy', 'pcgrad', {}, 'Projecting conflicting gradients (Yu 2020).');

/** PCGrad (Yu et al. 2020) on the tasks' weighted gradients w_t·g_t; the rest of the model trains on Σ w_t L_t. */
export class PcGrad extends FixedWeights {
  override readonly needsTaskGradients = true;

  combineGradients({ flat }: TaskGradients, rng: () => number): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => combineRows(g, pcgradCoefficients(gramMatrix(g, this.current), rng).map((k, t) => k * this.current[t])));
  }
}

/**
 * PCGrad's projection: for each task gradient g_i, for the other tasks j in random order, if
 * g_i·g_j < 0 remove from g_i its component along g_j. Returns Σ_i g_i (projected). Inputs are
 * flat gradient vectors of the shared weights.
 */
export function projectConflictingGradients(grads: tf.Tensor1D[], rng: () => number): tf.Tensor1D {
  return withTaskMatrix(grads, (g) => combineRows(g, pcgradCoefficients(gramMatrix(g, grads.map(() => 1)), rng)));
}

/**
 * The projection in the gradients' coordinates: every projected g_i is a combination Σ_k a_ik g_k
 * of the originals, so its dot products come from the Gram matrix M (g_i'·g_j = Σ_k a_ik M_kj) and
 * the whole projection costs T² numbers instead of T² passes over the gradients. Returns the
 * coefficients of Σ_i g_i' on the original gradients.
 */
export function pcgradCoefficients(gram: number[][], rng: () => number): number[] {
  const T = gram.length;
  const total = new Array<number>(T).fill(0);
  for (let i = 0; i < T; i++) {
    const a = new Array<number>(T).fill(0);
    a[i] = 1;
    const order = gram.map((_, j) => j).filter((j) => j !== i);
    for (let k = order.length - 1; k > 0; k--) {
      const r = Math.floor(rng() * (k + 1));
      [order[k], order[r]] = [order[r], order[k]];
    }
    for (const j of order) {
      const dot = a.reduce((acc, x, k) => acc + x * gram[k][j], 0);
      if (dot < 0) a[j] -= dot / Math.max(gram[j][j], 1e-20);
    }
    a.forEach((x, k) => (total[k] += x));
  }
  return total;
}

export const pcgrad: LossWeightingMethod<VariantOf<typeof PcGradSchema>> = {
  schema: PcGradSchema,
  takesTaskGradients: true,
  create: (_config, { weights }) => new PcGrad(weights),
};
