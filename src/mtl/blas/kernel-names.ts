/** Name of the backend: TensorFlow.js's plain JS `cpu` backend with its hot kernels on native BLAS. */
export const BLAS_BACKEND = 'blas';
/** The fused Adam update kernel (see FusedAdamOptimizer); outputs [value, m, v]. */
export const FUSED_ADAM_KERNEL = 'MtlFusedAdam';
/** A whole Dense layer, act(x·W + b), as one kernel with its own gradient (see fused-forward.ts). */
export const DENSE_KERNEL = 'MtlDense';
/**
 * Several linear Dense heads reading the same input, as one product: inputs x, k0, b0, k1, b1, …;
 * outputs the heads' kernels side by side (saved for the gradient), then each head's x·kₜ + bₜ.
 */
export const DENSE_HEADS_KERNEL = 'MtlDenseHeads';
/** The heads' gradient in one pass: outputs [dx, dk0…, db0…] (see DENSE_HEADS_KERNEL). */
export const DENSE_HEADS_GRAD_KERNEL = 'MtlDenseHeadsGrad';
/** The same rows of several tensors at once: inputs indices, t0, t1, …; outputs their rows (a training batch). */
export const GATHER_ROWS_KERNEL = 'MtlGatherRows';
/** dy · act'(x) from the activation's output y (the Dense gradient's first step). */
export const ACTIVATION_GRAD_KERNEL = 'MtlActivationGrad';
/** One task's masked loss from its logits: outputs [mean, sum, count, ∂mean/∂logits] (see losses.ts). */
export const MASKED_LOSS_KERNEL = 'MtlMaskedLoss';
/** Σ_t w_t · l_t over scalar losses l0, l1, … (attrs weights): a static/DWA loss combination as one kernel. */
export const WEIGHTED_SUM_KERNEL = 'MtlWeightedSum';
/** Activations the fused Dense kernel and its gradient cover. */
export const DENSE_ACTIVATIONS = ['linear', 'relu', 'elu', 'sigmoid', 'tanh'] as const;
