import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadNativeBlas, type NativeBlas } from '../native-blas.js';
import { fusedAdamKernel } from './fused-adam.js';
import { denseHeadsGradKernel, denseHeadsKernel } from './dense-heads.js';
import { activationGradKernel, denseKernel } from './dense.js';
import { BINARY_OPS, UNARY_OPS, binaryKernel, unaryKernel } from './elementwise.js';
import { registerFusedGradients } from './fused-gradients.js';
import { gatherKernel, gatherRowsKernel } from './gather.js';
import type { Kernel } from './kernel.js';
import { ACTIVATION_GRAD_KERNEL, BLAS_BACKEND, DENSE_HEADS_GRAD_KERNEL, DENSE_HEADS_KERNEL, DENSE_KERNEL, FUSED_ADAM_KERNEL, GATHER_ROWS_KERNEL, MASKED_LOSS_KERNEL, WEIGHTED_SUM_KERNEL } from './kernel-names.js';
import { maskedLossKernel } from './masked-loss.js';
import { batchMatMulKernel, fusedMatMulKernel } from './matmul.js';
import { packKernel, unpackKernel } from './pack.js';
import { softmaxKernel } from './softmax.js';
import { sumKernel } from './sum.js';
import { weightedSumKernel } from './weighted-sum.js';

export interface BlasBackendInfo {
  ok: boolean;
  /** Why the backend is unavailable (addon not built or not loadable). */
  reason?: string;
  /** Kernels that run natively / in specialised JS instead of the cpu backend's JS loops. */
  kernels: string[];
  /** e.g. "OpenBLAS 0.3.21 … (core Zen), 2 threads". */
  library?: string;
}

/** Settings of the `blas` backend (from src/config.ts: MTL_BLAS_THREADS, MTL_BLAS_ADDON). */
export interface BlasBackendOptions {
  /** OpenBLAS's thread count, at most the machine's cores (default 1). */
  threads?: number;
  /** Another native addon file instead of native/build/mtl_blas.node. */
  addonPath?: string;
}

let registered: BlasBackendInfo | undefined;
let native: NativeBlas | undefined;

/** Whether the running backend has a kernel (the fused ones exist on the blas backend only). */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** The native library the registered `blas` backend runs on; undefined before a successful registration. */
export function registeredNativeBlas(): NativeBlas | undefined {
  return native;
}

/**
 * Registers the `blas` backend once (the first call's options hold for the process): a fresh
 * instance of tfjs's `cpu` backend (tensor data are plain typed arrays) with every cpu kernel,
 * where these are replaced:
 *
 * - `BatchMatMul`, `_FusedMatMul`: cblas_sgemm (transposes handled by BLAS, not by copies or
 *   strided loops), bias and activation in one native pass;
 * - `GatherV2` on axis 0 (batch rows): row copies instead of per-element index arithmetic, and
 *   `MtlGatherRows` (new): a whole batch (inputs, every task's labels and mask) in one kernel;
 * - `Sum` over a contiguous block of axes (bias gradients, MMoE's expert mixing): no transpose first;
 * - `Pack` of same-shape float32 tensors on any axis (a step's statistics, expert stacks), and
 *   `Unpack` (its gradient): strided copies instead of the cpu backend's element-wise buffers;
 * - `Softmax` over the last axis (classification heads when serving): one pass per row;
 * - float32 elementwise kernels (Add, Sub, Multiply, RealDiv, Maximum, Minimum,
 *   SquaredDifference with broadcasting; Relu, Step, Neg, Exp, Log, Log1p, Abs, Sqrt, Square,
 *   Sigmoid, Elu, Relu6, Tanh): one native loop each. The cpu backend's generic loops call the operation
 *   through a shared closure, and its broadcasting path allocates index arrays for every element
 *   (a bias add of 256×256 took milliseconds);
 * - `MtlFusedAdam` (new): the whole Adam update of one variable in one native loop;
 * - `MtlDense`, `MtlDenseHeads`, `MtlActivationGrad`, `MtlMaskedLoss`, `MtlWeightedSum` (new): a
 *   Dense layer, all the task heads on one input, a task's masked loss and the weighted sum of the
 *   task losses as one kernel each, with gradients, for the trainer's fused path (fused-forward.ts,
 *   losses.ts): a training step then runs about a third of the kernels, and tfjs's per-kernel
 *   bookkeeping (tape, saved-tensor clones, scopes) is what a step of a small model mostly costs.
 *
 * Each computes what the cpu kernel computes (float32, same operation order where it matters; the
 * matmul's float32 accumulation differs from the JS double accumulation by ~1e-7 relative).
 * Inputs the fast paths do not cover (other dtypes, odd broadcasts, prelu) go to the cpu kernel.
 * `threads` sets OpenBLAS's thread count (default 1); `addonPath` names another addon file.
 */
export function registerBlasBackend(options: BlasBackendOptions = {}): BlasBackendInfo {
  if (registered) return registered;
  const load = loadNativeBlas(options.addonPath);
  if (!load.ok) return (registered = { ok: false, reason: load.reason, kernels: [] });
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) return (registered = { ok: false, reason: 'the tfjs cpu backend is not registered', kernels: [] });
  const blas = load.blas;
  native = blas;
  // One thread unless told otherwise: OpenBLAS's pool makes every product wait for all its
  // workers, so on a machine whose other core is busy (other jobs, the API, a second worker) one
  // descheduled worker stalls the step; see docs/performance.md for both measured.
  const requested = Number(options.threads);
  blas.setThreads(Number.isInteger(requested) && requested > 0 ? Math.min(requested, availableParallelism()) : 1);

  tf.registerBackend(BLAS_BACKEND, () => {
    const backend = cpuFactory() as tf.KernelBackend & { firstUse?: boolean };
    backend.firstUse = false; // no "install tfjs-node" banner: this backend is the native one
    return backend;
  }, 0);
  const { replaced, added } = registerKernels(blas);
  registerFusedGradients();
  return (registered = {
    ok: true,
    kernels: [...replaced, ...added],
    library: `${blas.info()}, ${blas.threads()} thread${blas.threads() === 1 ? '' : 's'}`,
  });
}

/** Every cpu kernel under the `blas` backend, with the native ones in place of theirs, and the new ones; returns the names of both. */
function registerKernels(blas: NativeBlas): { replaced: string[]; added: string[] } {
  const cpuKernels = new Map(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, k]));
  for (const k of cpuKernels.values()) tf.registerKernel({ ...k, backendName: BLAS_BACKEND });
  const original = (name: string) => cpuKernels.get(name)!.kernelFunc as unknown as Kernel;
  const replace = (name: string, kernelFunc: Kernel) => {
    tf.unregisterKernel(name, BLAS_BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BLAS_BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };
  const replaced = [
    ['BatchMatMul', batchMatMulKernel(blas, original('BatchMatMul'))],
    ['_FusedMatMul', fusedMatMulKernel(blas, original('_FusedMatMul'))],
    ['GatherV2', gatherKernel(original('GatherV2'))],
    ['Sum', sumKernel(blas, original('Sum'))],
    ['Pack', packKernel(original('Pack'))],
    ['Unpack', unpackKernel(original('Unpack'))],
    ['Softmax', softmaxKernel(original('Softmax'))],
    ...Object.entries(BINARY_OPS).map(([name, op]) => [name, binaryKernel(blas, op, original(name))] as const),
    ...Object.entries(UNARY_OPS).map(([name, op]) => [name, unaryKernel(blas, op, original(name))] as const),
  ] as const;
  for (const [name, fn] of replaced) replace(name, fn);
  const added = [
    [FUSED_ADAM_KERNEL, fusedAdamKernel(blas)],
    [DENSE_KERNEL, denseKernel(blas)],
    [ACTIVATION_GRAD_KERNEL, activationGradKernel(blas)],
    [MASKED_LOSS_KERNEL, maskedLossKernel],
    [WEIGHTED_SUM_KERNEL, weightedSumKernel],
    [DENSE_HEADS_KERNEL, denseHeadsKernel(blas)],
    [GATHER_ROWS_KERNEL, gatherRowsKernel],
    [DENSE_HEADS_GRAD_KERNEL, denseHeadsGradKernel(blas)],
  ] as const;
  for (const [name, fn] of added) tf.registerKernel({ kernelName: name, backendName: BLAS_BACKEND, kernelFunc: fn as unknown as tf.KernelFunc });
  return { replaced: replaced.map(([n]) => n), added: added.map(([n]) => n) };
}
