import { variantSchema, type VariantOf } from '../spec-variants.js';
import { FixedWeights, type LossWeightingMethod } from './loss-weighting.js';

export const StaticSchema = variantSchema('strategy', 'static', {}, 'The tasks\' weights, unchanged.');

/** Σ w_t · L_t with the tasks' spec weights. */
export const staticWeights: LossWeightingMethod<VariantOf<typeof StaticSchema>> = {
  schema: StaticSchema,
  create: (_config, { weights }) => new FixedWeights(weights),
};
