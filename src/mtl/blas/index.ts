/**
 * The `blas` backend: TensorFlow.js's plain JS `cpu` backend with its hot kernels on the system's
 * OpenBLAS (native/mtl_blas.c), and the fused kernels the trainer's fast path runs. One file per
 * kernel or kernel family, as in tfjs-backend-cpu; this is what the rest of the engine uses.
 */
export { registerBlasBackend, hasKernel, type BlasBackendInfo, type BlasBackendOptions } from './register-blas-backend.js';
export {
  BLAS_BACKEND,
  ACTIVATION_GRAD_KERNEL,
  DENSE_ACTIVATIONS,
  DENSE_HEADS_GRAD_KERNEL,
  DENSE_HEADS_KERNEL,
  DENSE_KERNEL,
  FUSED_ADAM_KERNEL,
  GATHER_ROWS_KERNEL,
  MASKED_LOSS_KERNEL,
  WEIGHTED_SUM_KERNEL,
} from './kernel-names.js';
export { adamInPlace } from './adam-in-place.js';
export type { AdamAttrs } from './fused-adam.js';
export { broadcastLoops } from './broadcast-loops.js';
