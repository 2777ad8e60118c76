import * as tf from '@tensorflow/tfjs';
import { adamInPlace, FUSED_ADAM_KERNEL, hasKernel } from './blas/index.js';

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
  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const s = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
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
        if (adamInPlace(value, gradient, m, v, attrs)) return;
        const [newValue, newM, newV] = tf.engine().runKernel(FUSED_ADAM_KERNEL, { value, gradient, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
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

/** Adam for the training loop: the fused update where the current backend has its kernel, else tfjs's own. */
export function createAdam(learningRate: number): tf.AdamOptimizer {
  const fused = hasKernel(FUSED_ADAM_KERNEL);
  return fused ? new FusedAdamOptimizer(learningRate, 0.9, 0.999) : tf.train.adam(learningRate);
}
