import type * as tf from '@tensorflow/tfjs';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { weightedSum } from '../losses.js';
import { StepWeights, type LossWeightingMethod } from './loss-weighting.js';

export const RlwSchema = variantSchema('strategy', 'rlw', {}, 'Random loss weighting: new random weights every step (Lin 2022).');

/**
 * Random Loss Weighting (Lin et al. 2022, "Reasonable effectiveness of random weighting"): every
 * step w_t = w_t(static) · softmax(λ)_t with λ_t ~ N(0, 1), drawn from the step's seeded random
 * stream so a run repeats (and resumes) exactly. No task gradients: the cost of `static`.
 */
export class RandomLossWeighting extends StepWeights {
  override combine(losses: tf.Scalar[], rng: () => number): tf.Scalar {
    this.current = randomWeights(this.base, rng);
    this.report(this.current);
    return weightedSum(losses, this.current);
  }
}

/** base_t · softmax(λ)_t with one standard normal λ_t per task (Box–Muller from two uniform draws each). */
export function randomWeights(base: number[], rng: () => number): number[] {
  const normals = base.map(() => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()));
  const top = Math.max(...normals);
  const exps = normals.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e, t) => (base[t] * e) / total);
}

export const rlw: LossWeightingMethod<VariantOf<typeof RlwSchema>> = {
  schema: RlwSchema,
  create: (_config, { weights }) => new RandomLossWeighting(weights),
};
