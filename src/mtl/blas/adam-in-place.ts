import * as tf from '@tensorflow/tfjs';
import { decayInPlace, type AdamAttrs } from './fused-adam.js';
import { BLAS_BACKEND } from './kernel-names.js';
import type { CpuBackend } from './kernel.js';
import { registeredNativeBlas } from './register-blas-backend.js';

/**
 * One Adam step written over the variable and its moments, on the `blas` backend, when nothing
 * else shares their buffers (each held by one tensor: a clone kept as the best epoch's weights
 * shares the variable's buffer, and then this returns false and the caller runs the allocating
 * kernel). Saves three allocations and three assigns per variable per step. Same arithmetic as
 * `MtlFusedAdam`. The reference count cannot see a typed array that was handed to `tf.tensor` (on
 * this backend it becomes the tensor's buffer): whoever keeps such an array must give a copy.
 */
export function adamInPlace(value: tf.Tensor, gradient: tf.Tensor, m: tf.Tensor, v: tf.Tensor, at: AdamAttrs): boolean {
  const native = registeredNativeBlas();
  if (!native || tf.getBackend() !== BLAS_BACKEND) return false;
  const data = (tf.backend() as unknown as CpuBackend).data;
  const w = data.get(value.dataId);
  const mm = data.get(m.dataId);
  const vv = data.get(v.dataId);
  if (w.refCount !== 1 || mm.refCount !== 1 || vv.refCount !== 1) return false;
  const [wa, ga, ma, va] = [w.values, data.get(gradient.dataId).values, mm.values, vv.values];
  const n = value.size;
  if (!(wa instanceof Float32Array && ga instanceof Float32Array && ma instanceof Float32Array && va instanceof Float32Array)) return false;
  if (wa.length !== n || ga.length !== n || ma.length !== n || va.length !== n) return false;
  decayInPlace(wa, at.decay);
  native.adamInPlace(wa, ga, ma, va, at.beta1, 1 - at.beta1, at.beta2, 1 - at.beta2, at.oneMinusAccBeta1, at.oneMinusAccBeta2, at.epsilon, -at.learningRate);
  return true;
}
