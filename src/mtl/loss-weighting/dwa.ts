import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { FixedWeights, type LossWeightingMethod } from './loss-weighting.js';

export const DwaSchema = variantSchema(
  'strategy',
  'dwa',
  { temperature: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 2, description: 'softmax temperature' }) },
  'Dynamic Weight Average (Liu 2019).',
);

/**
 * Dynamic Weight Average (Liu et al. 2019): w_t = T · softmax_t(r_t / temperature) with
 * r_t = L_t(e−1) / L_t(e−2), the rate at which each task's loss fell; 1 for the first two epochs.
 * Multiplied by the static weights.
 */
export class DynamicWeightAverage extends FixedWeights {
  constructor(base: number[], private readonly temperature: number) {
    super(base);
  }

  override startEpoch(history: number[][]): void {
    this.current = [...this.base];
    if (history.length < 2) return;
    const last = history[history.length - 1];
    const before = history[history.length - 2];
    const ratios = last.map((l, t) => (before[t] > 0 && Number.isFinite(l / before[t]) ? l / before[t] : 1));
    const exps = ratios.map((r) => Math.exp(r / this.temperature));
    const total = exps.reduce((a, b) => a + b, 0);
    this.current = exps.map((e, t) => (this.base[t] * this.base.length * e) / total);
  }
}

export const dwa: LossWeightingMethod<VariantOf<typeof DwaSchema>> = {
  schema: DwaSchema,
  create: (config, { weights }) => new DynamicWeightAverage(weights, config.temperature),
};
