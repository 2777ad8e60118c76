import type * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { FUSED_ADAM_KERNEL } from './kernel-names.js';
import { f32, type Kernel } from './kernel.js';

/** The fused Adam update's attributes (the optimizer's hyperparameters and bias corrections). */
export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  /** Decoupled weight decay: the value is first multiplied by this (1 − learningRate · weightDecay, AdamW); absent or 1: none. */
  decay?: number;
}

/** w ← decay · w, element by element in float32 (the product of two float32 values rounded once, as tf.mul does). */
export function decayInPlace(w: Float32Array, decay: number | undefined): void {
  if (decay === undefined || decay === 1) return;
  for (let i = 0; i < w.length; i++) w[i] *= decay;
}

/**
 * One Adam step for one variable: inputs value, gradient, m, v; attrs beta1, beta2, epsilon,
 * learningRate, oneMinusAccBeta1, oneMinusAccBeta2 (1 − βᵗ as float32). Outputs [value, m, v],
 * equal to what tfjs's AdamOptimizer computes with ~12 separate kernels.
 */
export function fusedAdamKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { value, gradient, m, v } = args.inputs as Record<'value' | 'gradient' | 'm' | 'v', tf.TensorInfo>;
    const at = args.attrs as unknown as AdamAttrs;
    const [wv, gv, mv, vv] = [value, gradient, m, v].map((t) => f32(args.backend, t));
    if (!wv || !gv || !mv || !vv) throw new Error(`${FUSED_ADAM_KERNEL}: float32 tensors expected`);
    // New buffers (the inputs may be shared, e.g. with a best-epoch copy), updated by the same
    // native loop as the in-place path.
    const outW = wv.slice();
    const outM = mv.slice();
    const outV = vv.slice();
    decayInPlace(outW, at.decay);
    blas.adamInPlace(outW, gv, outM, outV, at.beta1, 1 - at.beta1, at.beta2, 1 - at.beta2, at.oneMinusAccBeta1, at.oneMinusAccBeta2, at.epsilon, -at.learningRate);
    return [
      args.backend.makeTensorInfo(value.shape, 'float32', outW),
      args.backend.makeTensorInfo(value.shape, 'float32', outM),
      args.backend.makeTensorInfo(value.shape, 'float32', outV),
    ];
  };
}
