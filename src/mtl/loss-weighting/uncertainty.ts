import * as tf from '@tensorflow/tfjs';
import type { TaskType } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import type { LossWeighting, LossWeightingMethod, LossWeightingState } from './loss-weighting.js';

export const UncertaintySchema = variantSchema('strategy', 'uncertainty', {}, 'Learned per-task log-variance (Kendall 2018).');

/**
 * Homoscedastic uncertainty weighting (Kendall et al. 2018) with s_t = log σ_t²:
 * regression 0.5·e^(−s)·L + 0.5·s, classification-like e^(−s)·L + 0.5·s.
 */
export class UncertaintyWeighting implements LossWeighting {
  readonly needsTaskGradients = false;
  readonly variables: tf.Variable[];
  private readonly scale: number[];

  constructor(base: number[], types: TaskType[]) {
    // Made inside tidy so the initial scalars go; the variables themselves are disposed by dispose().
    this.variables = types.map((_, t) => tf.tidy(() => tf.variable(tf.scalar(0), true, `uncertainty_log_var_${t}_${Math.random().toString(36).slice(2, 8)}`)));
    this.scale = types.map((type, t) => (type === 'regression' ? 0.5 : 1) * base[t]);
  }

  startEpoch(): void {}

  combine(losses: tf.Scalar[]): tf.Scalar {
    return tf.tidy(() =>
      losses.reduce<tf.Scalar>((acc, l, t) => {
        const s = this.variables[t];
        return tf.add(acc, tf.add(tf.mul(tf.mul(tf.exp(tf.neg(s)), l), this.scale[t]), tf.mul(s, 0.5)));
      }, tf.scalar(0)),
    );
  }

  currentWeights(): number[] {
    return this.variables.map((s, t) => this.scale[t] * Math.exp(-s.dataSync()[0]));
  }

  /** log σ_t² per task, as learned. */
  logVariances(): number[] {
    return this.variables.map((s) => s.dataSync()[0]);
  }

  getState(): LossWeightingState {
    return { logVariances: this.logVariances() };
  }

  setState(state: LossWeightingState): void {
    tf.tidy(() => state.logVariances?.forEach((v, t) => this.variables[t].assign(tf.scalar(v))));
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

export const uncertainty: LossWeightingMethod<VariantOf<typeof UncertaintySchema>> = {
  schema: UncertaintySchema,
  create: (_config, { weights, types }) => new UncertaintyWeighting(weights, types),
};
