import * as tf from '@tensorflow/tfjs';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { FixedWeights, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const PcGradSchema = variantSchema('strategy', 'pcgrad', {}, 'Projecting conflicting gradients (Yu 2020).');

/** PCGrad (Yu et al. 2020) on the tasks' weighted gradients w_t·g_t; the rest of the model trains on Σ w_t L_t. */
export class PcGrad extends FixedWeights {
  override readonly needsTaskGradients = true;

  combineGradients({ flat }: TaskGradients, rng: () => number): tf.Tensor1D {
    return tf.tidy(() => projectConflictingGradients(flat.map((g, t) => tf.mul(g, this.current[t]) as tf.Tensor1D), rng));
  }
}

/**
 * PCGrad's projection: for each task gradient g_i, for the other tasks j in random order, if
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

export const pcgrad: LossWeightingMethod<VariantOf<typeof PcGradSchema>> = {
  schema: PcGradSchema,
  takesTaskGradients: true,
  create: (_config, { weights }) => new PcGrad(weights),
};
