import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_GRAD_KERNEL, DENSE_HEADS_GRAD_KERNEL, DENSE_HEADS_KERNEL, DENSE_KERNEL, MASKED_LOSS_KERNEL, WEIGHTED_SUM_KERNEL } from './kernel-names.js';

/** A Dense layer's gradient: dz = dy · act'(x) once, then dx, dW and db from it. */
const denseGradient: tf.GradConfig = {
  kernelName: DENSE_KERNEL,
  inputsToSave: ['x', 'kernel'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, kernel, y] = saved;
    const activation = String((attrs as { activation?: string }).activation ?? 'linear');
    // dz once for all three (this body runs inside the backprop's scope, which frees it)
    const dz = activation === 'linear' ? (dy as tf.Tensor) : (tf.engine().runKernel(ACTIVATION_GRAD_KERNEL, { dy: dy as tf.Tensor, y }, { activation }) as tf.Tensor);
    return {
      x: () => tf.matMul(dz, kernel, false, true),
      kernel: () => tf.matMul(x, dz, true, false),
      bias: () => tf.sum(dz, 0),
    };
  },
};

/** The task heads' gradient: one `MtlDenseHeadsGrad` kernel for every head's kernel and bias and the shared input. */
const denseHeadsGradient: tf.GradConfig = {
  kernelName: DENSE_HEADS_KERNEL,
  inputsToSave: ['x'],
  outputsToSave: [true], // the packed kernels
  gradFunc: (dys, saved, attrs) => {
    const widths = (attrs as { widths: number[] }).widths;
    const [x, w] = saved;
    const dyInputs: tf.NamedTensorMap = { x, w };
    for (let t = 0; t < widths.length; t++) dyInputs[`dy${t}`] = (dys as tf.Tensor[])[t + 1];
    const out = tf.engine().runKernel(DENSE_HEADS_GRAD_KERNEL, dyInputs, { widths }) as tf.Tensor[];
    const grads: Record<string, () => tf.Tensor> = { x: () => out[0] };
    for (let t = 0; t < widths.length; t++) {
      grads[`k${t}`] = () => out[1 + t];
      grads[`b${t}`] = () => out[1 + widths.length + t];
    }
    return grads;
  },
};

/** ∂(Σ wₜ·lₜ)/∂lₜ = dy · wₜ. */
const weightedSumGradient: tf.GradConfig = {
  kernelName: WEIGHTED_SUM_KERNEL,
  gradFunc: (dy, _saved, attrs) => {
    const weights = (attrs as { weights: number[] }).weights;
    const grads: Record<string, () => tf.Tensor> = {};
    for (let t = 0; t < weights.length; t++) grads[`l${t}`] = () => tf.mul(dy as tf.Tensor, weights[t]);
    return grads;
  },
};

/** A task's masked loss: the kernel's own ∂mean/∂logits, scaled by what flows into its mean and its sum. */
const maskedLossGradient: tf.GradConfig = {
  kernelName: MASKED_LOSS_KERNEL,
  outputsToSave: [false, false, true, true],
  gradFunc: (dys, saved) => {
    const [dMean, dSum] = dys as tf.Tensor[];
    const [count, grad] = saved;
    return {
      logits: () => {
        // ∂mean/∂logits · dMean, plus ∂sum/∂logits · dSum (= ∂mean/∂logits · max(count, 1)) when the sum is used too
        const fromSum = dSum.dataSync()[0] !== 0 ? tf.mul(dSum, tf.maximum(count, 1)) : null;
        return tf.mul(grad, fromSum ? tf.add(dMean, fromSum) : dMean);
      },
    };
  },
};

let gradientsRegistered = false;

/** Gradients of the fused kernels (registered once, for every backend that has the kernels). */
export function registerFusedGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  for (const gradient of [denseGradient, denseHeadsGradient, weightedSumGradient, maskedLossGradient]) tf.registerGradient(gradient);
}
