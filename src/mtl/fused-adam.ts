import * as tf from '@tensorflow/tfjs';
import { adamInPlace, FUSED_ADAM_KERNEL, hasKernel, type AdamAttrs } from './blas/index.js';

/** AdamOptimizer's private state, which the fused update reads and writes exactly as the stock one does. */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * tfjs's Adam with each variable's update done by one `MtlFusedAdam` kernel instead of ~12
 * elementwise kernels (on the `blas` backend, where that kernel exists), written in place over the
 * variable and its moments when nothing else shares their buffers. Same state (moments,
 * β powers, iteration count), same `getWeights`/`setWeights` (checkpoints move freely between
 * the two), same float32 arithmetic in the same order.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Decoupled weight decay (see createAdam): the factor and the variables it applies to. */
  decay: WeightDecay | null = null;

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const s = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const decay = this.decay;
    // 1 − βᵗ exactly as the stock optimizer's float32 `sub(1, accBeta)` gives it.
    const oneMinusAccBeta1 = Math.fround(1 - s.accBeta1.dataSync()[0]);
    const oneMinusAccBeta2 = Math.fround(1 - s.accBeta2.dataSync()[0]);
    const attrs = { beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon, learningRate: s.learningRate, oneMinusAccBeta1, oneMinusAccBeta2 };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (s.accumulatedFirstMoment[i] == null) {
          s.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (s.accumulatedSecondMoment[i] == null) {
          s.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const m = s.accumulatedFirstMoment[i].variable;
        const v = s.accumulatedSecondMoment[i].variable;
        const at: AdamAttrs = decay && decay.variables.has(name) ? { ...attrs, decay: decay.factor } : attrs;
        if (adamInPlace(value, gradient, m, v, at)) return;
        const [newValue, newM, newV] = tf.engine().runKernel(FUSED_ADAM_KERNEL, { value, gradient, m, v }, at as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}

/** Decoupled weight decay: each step, before its Adam update, every variable named in `variables` is multiplied by `factor` = 1 − learningRate · weightDecay. */
export interface WeightDecay {
  factor: number;
  variables: Set<string>;
}

/**
 * tfjs's Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019): w ← (1 − η·λ)·w, then
 * the Adam step, for the variables in `decay` that have a gradient in this step. The float32 product
 * is the one the fused kernel computes, so both paths give the same weights.
 */
export class AdamWOptimizer extends tf.AdamOptimizer {
  decay: WeightDecay | null = null;

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const decay = this.decay;
    if (decay) {
      const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
      tf.tidy(() => {
        names.forEach((name, i) => {
          const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
          if (gradient == null || !decay.variables.has(name)) return;
          const value = tf.engine().registeredVariables[name];
          value.assign(tf.mul(value, tf.scalar(decay.factor)));
        });
      });
    }
    super.applyGradients(variableGradients as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
  }
}

/**
 * Adam for the training loop: the fused update where the current backend has its kernel, else
 * tfjs's own. With `weightDecay` > 0, AdamW-style decoupled decay of the variables named in
 * `decayed` (the trainer passes the Dense kernels); 0 is plain Adam, step for step as before.
 */
export function createAdam(learningRate: number, weightDecay = 0, decayed: Iterable<string> = []): tf.AdamOptimizer {
  const fused = hasKernel(FUSED_ADAM_KERNEL);
  if (weightDecay <= 0) return fused ? new FusedAdamOptimizer(learningRate, 0.9, 0.999) : tf.train.adam(learningRate);
  const optimizer = fused ? new FusedAdamOptimizer(learningRate, 0.9, 0.999) : new AdamWOptimizer(learningRate, 0.9, 0.999);
  optimizer.decay = { factor: Math.fround(1 - learningRate * weightDecay), variables: new Set(decayed) };
  return optimizer;
}
