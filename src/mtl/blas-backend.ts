import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadNativeBlas, type NativeBlas } from './native-blas.js';

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

type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** The parts of tfjs-backend-cpu's MathBackendCPU the kernels below use. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: BackendValues; refCount: number } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: BackendValues): tf.TensorInfo;
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo | null | undefined>; backend: CpuBackend; attrs?: Record<string, unknown> };
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

export interface BlasBackendInfo {
  ok: boolean;
  /** Why the backend is unavailable (addon not built or not loadable). */
  reason?: string;
  /** Kernels that run natively / in specialised JS instead of the cpu backend's JS loops. */
  kernels: string[];
  /** e.g. "OpenBLAS 0.3.21 … (core Zen), 2 threads". */
  library?: string;
}

let registered: BlasBackendInfo | undefined;
let native: NativeBlas | undefined;

/** Whether the running backend has a kernel (the fused ones exist on the blas backend only). */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Registers the `blas` backend once: a fresh instance of tfjs's `cpu` backend (tensor data are
 * plain typed arrays) with every cpu kernel, where these are replaced:
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
 * `MTL_BLAS_THREADS` sets OpenBLAS's thread count (default 1).
 */
export function registerBlasBackend(): BlasBackendInfo {
  if (registered) return registered;
  const load = loadNativeBlas();
  if (!load.ok) return (registered = { ok: false, reason: load.reason, kernels: [] });
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) return (registered = { ok: false, reason: 'the tfjs cpu backend is not registered', kernels: [] });
  const blas = load.blas;
  native = blas;
  // One thread unless MTL_BLAS_THREADS says otherwise: OpenBLAS's pool makes every product wait for
  // all its workers, so on a machine whose other core is busy (other jobs, the API, a second worker)
  // one descheduled worker stalls the step; see docs/performance.md for both measured.
  const requested = Number(process.env.MTL_BLAS_THREADS);
  blas.setThreads(Number.isInteger(requested) && requested > 0 ? Math.min(requested, availableParallelism()) : 1);

  tf.registerBackend(BLAS_BACKEND, () => {
    const backend = cpuFactory() as tf.KernelBackend & { firstUse?: boolean };
    backend.firstUse = false; // no "install tfjs-node" banner: this backend is the native one
    return backend;
  }, 0);
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
  registerFusedGradients();
  return (registered = {
    ok: true,
    kernels: [...replaced.map(([n]) => n), ...added.map(([n]) => n)],
    library: `${blas.info()}, ${blas.threads()} thread${blas.threads() === 1 ? '' : 's'}`,
  });
}

const f32 = (backend: CpuBackend, t: tf.TensorInfo): Float32Array | null => {
  const v = backend.data.get(t.dataId).values;
  return t.dtype === 'float32' && v instanceof Float32Array ? v : null;
};

interface MatMulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes of a (batched, broadcast) matmul as the cpu kernel reads them; null when BLAS cannot run it as strided batches. */
function planMatMul(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): MatMulPlan | null {
  const ar = a.shape.length;
  const br = b.shape.length;
  if (ar < 2 || br < 2) return null;
  const k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  if (k !== kb) return null; // the cpu kernel throws the proper message
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  return { batch, m, n, k, strideA: batchA === 1 ? 0 : m * k, strideB: batchB === 1 ? 0 : k * n, outShape: [...outer, m, n] };
}

function batchMatMulKernel(blas: NativeBlas, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const transposeA = Boolean(args.attrs?.transposeA);
    const transposeB = Boolean(args.attrs?.transposeB);
    const av = f32(args.backend, a);
    const bv = f32(args.backend, b);
    const plan = av && bv ? planMatMul(a, b, transposeA, transposeB) : null;
    if (!plan) return fallback(args);
    const out = new Float32Array(plan.batch * plan.m * plan.n);
    blas.sgemm(plan.batch, transposeA, transposeB, plan.m, plan.n, plan.k, av!, plan.strideA, bv!, plan.strideB, out, plan.m * plan.n);
    return args.backend.makeTensorInfo(plan.outShape, 'float32', out);
  };
}

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5, tanh: 6 };

function fusedMatMulKernel(blas: NativeBlas, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo | null };
    const transposeA = Boolean(args.attrs?.transposeA);
    const transposeB = Boolean(args.attrs?.transposeB);
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    const code = ACTIVATIONS[activation];
    const av = f32(args.backend, a);
    const bv = f32(args.backend, b);
    const plan = av && bv && code !== undefined ? planMatMul(a, b, transposeA, transposeB) : null;
    let biasValues: Float32Array | null = null;
    if (plan && bias) {
      biasValues = f32(args.backend, bias);
      // Per output column ([n], [1, n], …) or one value: anything else goes to the cpu kernel.
      const perColumn = bias.shape.length > 0 && bias.shape[bias.shape.length - 1] === plan.n && tf.util.sizeFromShape(bias.shape) === plan.n;
      const single = tf.util.sizeFromShape(bias.shape) === 1;
      if (!biasValues || (!perColumn && !single) || bias.shape.length > plan.outShape.length) return fallback(args);
    }
    if (!plan) return fallback(args);
    const out = new Float32Array(plan.batch * plan.m * plan.n);
    blas.sgemm(plan.batch, transposeA, transposeB, plan.m, plan.n, plan.k, av!, plan.strideA, bv!, plan.strideB, out, plan.m * plan.n);
    if (biasValues || code !== 0) blas.epilogue(out, plan.batch * plan.m, plan.n, biasValues, code, Number(args.attrs?.leakyreluAlpha ?? 0.2));
    return args.backend.makeTensorInfo(plan.outShape, 'float32', out);
  };
}

/** Rows of a float32/int32 tensor by index (axis 0, no batch dims): what each training step does to its batch. */
function gatherKernel(fallback: Kernel): Kernel {
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
    const batchDims = (args.attrs?.batchDims as number | undefined) ?? 0;
    const xv = args.backend.data.get(x.dataId).values;
    const iv = args.backend.data.get(indices.dataId).values;
    if (axis !== 0 || batchDims !== 0 || x.shape.length === 0 || !(iv instanceof Int32Array)) return fallback(args);
    const row = tf.util.sizeFromShape(x.shape.slice(1));
    let out: Float32Array | Int32Array | null = null;
    if (xv instanceof Float32Array) out = gatherRowsF32(xv, x.shape[0], row, iv);
    else if (xv instanceof Int32Array) out = gatherRowsI32(xv, x.shape[0], row, iv);
    if (!out) return fallback(args); // an index out of range: the cpu kernel throws the usual error
    return args.backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, out);
  };
}

/** Inputs indices (int32) and t0…tN−1 (float32 or int32, rows on axis 0): outputs the indexed rows of each. */
const gatherRowsKernel: Kernel = (args) => {
  const indices = args.inputs.indices!;
  const iv = args.backend.data.get(indices.dataId).values;
  if (!(iv instanceof Int32Array)) throw new Error(`${GATHER_ROWS_KERNEL}: int32 indices expected`);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; ; i++) {
    const t = args.inputs[`t${i}`];
    if (!t) break;
    const v = args.backend.data.get(t.dataId).values;
    const row = t.shape.length === 0 ? 0 : tf.util.sizeFromShape(t.shape.slice(1));
    const out = v instanceof Float32Array ? gatherRowsF32(v, t.shape[0], row, iv) : v instanceof Int32Array ? gatherRowsI32(v, t.shape[0], row, iv) : null;
    if (!out) throw new Error(`${GATHER_ROWS_KERNEL}: t${i}: rank ≥ 1 float32 or int32 and indices in [0, ${t.shape[0]}) expected`);
    outs.push(args.backend.makeTensorInfo([...indices.shape, ...t.shape.slice(1)], t.dtype, out));
  }
  return outs;
};

// One function per element type keeps each loop monomorphic (one polymorphic loop was the slowest
// part of a small model's step).
function gatherRowsF32(x: Float32Array, dim: number, row: number, idx: Int32Array): Float32Array | null {
  const out = new Float32Array(idx.length * row);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (!(r >= 0 && r < dim)) return null;
    if (row >= 64) out.set(x.subarray(r * row, r * row + row), i * row);
    else for (let j = 0, o = i * row, s = r * row; j < row; j++) out[o + j] = x[s + j];
  }
  return out;
}

function gatherRowsI32(x: Int32Array, dim: number, row: number, idx: Int32Array): Int32Array | null {
  const out = new Int32Array(idx.length * row);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (!(r >= 0 && r < dim)) return null;
    if (row >= 64) out.set(x.subarray(r * row, r * row + row), i * row);
    else for (let j = 0, o = i * row, s = r * row; j < row; j++) out[o + j] = x[s + j];
  }
  return out;
}

/** Softmax over the last axis, as the cpu kernel computes it (max, exp(x − max), Σ in double, divide). */
function softmaxKernel(fallback: Kernel): Kernel {
  return (args) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const xv = f32(args.backend, logits);
    const rank = logits.shape.length;
    const dim = Number(args.attrs?.dim ?? -1);
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return fallback(args);
    const width = logits.shape[rank - 1];
    const out = new Float32Array(xv.length);
    for (let o = 0; o < xv.length; o += width) {
      let max = xv[o];
      for (let j = 0; j < width; j++) if (Number.isNaN(xv[o + j]) || xv[o + j] > max) max = xv[o + j];
      let s = 0;
      for (let j = 0; j < width; j++) s += (out[o + j] = fr(Math.exp(fr(xv[o + j] - max))));
      const sum = fr(s);
      for (let j = 0; j < width; j++) out[o + j] = fr(out[o + j] / sum);
    }
    return args.backend.makeTensorInfo(logits.shape, 'float32', out);
  };
}

/** Stack of same-shape float32 tensors along a new first axis: their values one after another. */
function packKernel(fallback: Kernel): Kernel {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (inputs.length < 2) return fallback(args);
    const shape = inputs[0].shape;
    let axis = Number(args.attrs?.axis ?? 0);
    if (axis < 0) axis += shape.length + 1;
    const values: Float32Array[] = [];
    for (const t of inputs) {
      const v = f32(args.backend, t);
      if (!v || !sameShape(t.shape, shape)) return fallback(args);
      values.push(v);
    }
    // Input i fills slot i of the new axis: blocks of `inner` values, `outer` times.
    const n = inputs.length;
    const inner = tf.util.sizeFromShape(shape.slice(axis));
    const outer = values[0].length / Math.max(inner, 1);
    const out = new Float32Array(values[0].length * n);
    values.forEach((v, i) => {
      if (outer === 1) out.set(v, i * inner);
      else for (let o = 0; o < outer; o++) copyBlock(v, o * inner, out, (o * n + i) * inner, inner);
    });
    return args.backend.makeTensorInfo([...shape.slice(0, axis), n, ...shape.slice(axis)], 'float32', out);
  };
}

/** Splits a float32 tensor along an axis (the gradient of a Pack: MMoE's and PLE's expert stacks). */
function unpackKernel(fallback: Kernel): Kernel {
  return (args) => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    const xv = f32(args.backend, value);
    if (!xv) return fallback(args);
    const shape = value.shape;
    let axis = Number(args.attrs?.axis ?? 0);
    if (axis < 0) axis += shape.length;
    const n = shape[axis];
    const inner = tf.util.sizeFromShape(shape.slice(axis + 1));
    const outer = tf.util.sizeFromShape(shape.slice(0, axis));
    const outShape = [...shape.slice(0, axis), ...shape.slice(axis + 1)];
    return Array.from({ length: n }, (_, i) => {
      const out = new Float32Array(outer * inner);
      for (let o = 0; o < outer; o++) copyBlock(xv, (o * n + i) * inner, out, o * inner, inner);
      return args.backend.makeTensorInfo(outShape, 'float32', out);
    });
  };
}

function copyBlock(from: Float32Array, at: number, to: Float32Array, into: number, size: number): void {
  if (size >= 32) to.set(from.subarray(at, at + size), into);
  else for (let j = 0; j < size; j++) to[into + j] = from[at + j];
}

/**
 * Sum of a float32 tensor over one contiguous block of axes without transposing first: the
 * leading axes (a bias gradient, over the batch) in one pass, a middle block (MMoE's sum over its
 * experts) one outer slice at a time. Each output adds its inputs in the cpu kernel's order.
 */
function sumKernel(blas: NativeBlas, fallback: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const xv = f32(args.backend, x);
    const rank = x.shape.length;
    if (!xv || rank < 2) return fallback(args);
    const axes = [...tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape)].sort((a, b) => a - b);
    const k = axes.length;
    const first = axes[0];
    const last = axes[k - 1];
    if (k >= rank || last - first !== k - 1 || new Set(axes).size !== k) return fallback(args);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
    const rows = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
    const cols = tf.util.sizeFromShape(x.shape.slice(last + 1));
    const out = new Float32Array(outer * cols);
    if (outer === 1) blas.sumRows(xv, rows, cols, out);
    else for (let o = 0; o < outer; o++) blas.sumRows(xv.subarray(o * rows * cols, (o + 1) * rows * cols), rows, cols, out.subarray(o * cols, (o + 1) * cols));
    const shape = args.attrs?.keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)];
    return args.backend.makeTensorInfo(shape, 'float32', out);
  };
}

const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
const UNARY_OPS: Record<string, number> = { Relu: 0, Step: 1, Neg: 2, Exp: 3, Log: 4, Log1p: 5, Abs: 6, Sqrt: 7, Square: 8, Sigmoid: 9, Elu: 10, Relu6: 11, Tanh: 12 };

/**
 * A broadcast of shapes a and b as at most three nested loops: the output's dims with size-1 dims
 * dropped and neighbours merged where both operands continue contiguously (or both repeat), and
 * each operand's stride per loop (0 where it is broadcast). Null beyond three loops.
 */
export function broadcastLoops(aShape: number[], bShape: number[]): { outShape: number[]; dims: number[]; sa: number[]; sb: number[] } | null {
  let outShape: number[];
  try {
    outShape = tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const r = outShape.length;
  const sA = alignedStrides(aShape, r);
  const sB = alignedStrides(bShape, r);
  const dims: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < r; i++) {
    if (outShape[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && sa[last] === sA[i] * outShape[i] && sb[last] === sB[i] * outShape[i]) {
      dims[last] *= outShape[i];
      sa[last] = sA[i];
      sb[last] = sB[i];
    } else {
      dims.push(outShape[i]);
      sa.push(sA[i]);
      sb.push(sB[i]);
    }
  }
  if (dims.length > 3) return null;
  while (dims.length < 3) {
    dims.unshift(1);
    sa.unshift(0);
    sb.unshift(0);
  }
  return { outShape, dims, sa, sb };
}

/** Strides of `shape` aligned to the last `rank` dims of a broadcast output, 0 where it repeats. */
function alignedStrides(shape: number[], rank: number): number[] {
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = rank - 1, j = shape.length - 1; i >= 0 && j >= 0; i--, j--) {
    s[i] = shape[j] === 1 ? 0 : acc;
    acc *= shape[j];
  }
  return s;
}

function sameShape(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One element, in JS: what the native loop would compute, without the call (scalar bookkeeping of a step). */
function binaryScalar(op: number, x: number, y: number): number {
  switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: return Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : x > y ? x : y;
    case 5: return Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : x < y ? x : y;
    default: return (x - y) * (x - y);
  }
}

function binaryKernel(blas: NativeBlas, op: number, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = f32(args.backend, a);
    const bv = f32(args.backend, b);
    if (!av || !bv || av.length === 0 || bv.length === 0) return fallback(args);
    if (av.length === 1 && bv.length === 1 && a.shape.length === b.shape.length) {
      return args.backend.makeTensorInfo(a.shape, 'float32', Float32Array.of(binaryScalar(op, av[0], bv[0])));
    }
    if (sameShape(a.shape, b.shape)) {
      const out = new Float32Array(av.length);
      blas.binary(op, out, av, bv, 1, 1, av.length, 0, 0, 1, 0, 0, 1);
      return args.backend.makeTensorInfo(a.shape, 'float32', out);
    }
    const loops = broadcastLoops(a.shape, b.shape);
    if (!loops) return fallback(args);
    const { dims, sa, sb } = loops;
    const out = new Float32Array(dims[0] * dims[1] * dims[2]);
    blas.binary(op, out, av, bv, dims[0], dims[1], dims[2], sa[0], sa[1], sa[2], sb[0], sb[1], sb[2]);
    return args.backend.makeTensorInfo(loops.outShape, 'float32', out);
  };
}

function unaryKernel(blas: NativeBlas, op: number, fallback: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const xv = f32(args.backend, x);
    if (!xv) return fallback(args);
    const out = new Float32Array(xv.length);
    blas.unary(op, xv, out, Number(args.attrs?.alpha ?? 0));
    return args.backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

/**
 * One Adam step for one variable: inputs value, gradient, m, v; attrs beta1, beta2, epsilon,
 * learningRate, oneMinusAccBeta1, oneMinusAccBeta2 (1 − βᵗ as float32). Outputs [value, m, v],
 * equal to what tfjs's AdamOptimizer computes with ~12 separate kernels.
 */
function fusedAdamKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { value, gradient, m, v } = args.inputs as Record<'value' | 'gradient' | 'm' | 'v', tf.TensorInfo>;
    const at = args.attrs as { beta1: number; beta2: number; epsilon: number; learningRate: number; oneMinusAccBeta1: number; oneMinusAccBeta2: number };
    const [wv, gv, mv, vv] = [value, gradient, m, v].map((t) => f32(args.backend, t));
    if (!wv || !gv || !mv || !vv) throw new Error(`${FUSED_ADAM_KERNEL}: float32 tensors expected`);
    // New buffers (the inputs may be shared, e.g. with a best-epoch copy), updated by the same
    // native loop as the in-place path.
    const outW = wv.slice();
    const outM = mv.slice();
    const outV = vv.slice();
    blas.adamInPlace(outW, gv, outM, outV, at.beta1, 1 - at.beta1, at.beta2, 1 - at.beta2, at.oneMinusAccBeta1, at.oneMinusAccBeta2, at.epsilon, -at.learningRate);
    return [
      args.backend.makeTensorInfo(value.shape, 'float32', outW),
      args.backend.makeTensorInfo(value.shape, 'float32', outM),
      args.backend.makeTensorInfo(value.shape, 'float32', outV),
    ];
  };
}

/** act(x·W + b) for a 2-d x: inputs x, kernel, bias (optional); attrs activation. */
function denseKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { x, kernel, bias } = args.inputs as { x: tf.TensorInfo; kernel: tf.TensorInfo; bias?: tf.TensorInfo };
    const activation = String(args.attrs?.activation ?? 'linear');
    const code = ACTIVATIONS[activation];
    const xv = f32(args.backend, x);
    const wv = f32(args.backend, kernel);
    const bv = bias ? f32(args.backend, bias) : null;
    const [m, k] = x.shape;
    const n = kernel.shape[1];
    if (!xv || !wv || (bias && !bv) || code === undefined || x.shape.length !== 2 || kernel.shape.length !== 2 || kernel.shape[0] !== k || (bv && bv.length !== n)) {
      throw new Error(`${DENSE_KERNEL}: float32 x [m, k], kernel [k, n], bias [n] and a supported activation expected`);
    }
    const out = new Float32Array(m * n);
    blas.sgemm(1, false, false, m, n, k, xv, 0, wv, 0, out, 0);
    if (bv || code !== 0) blas.epilogue(out, m, n, bv, code, 0);
    return args.backend.makeTensorInfo([m, n], 'float32', out);
  };
}

/** Inputs dy, y (the activation's output); attrs activation: dy · act'(x) as tfjs's own gradients compute it. */
function activationGradKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    const code = ACTIVATIONS[String(args.attrs?.activation)];
    const dyv = f32(args.backend, dy);
    const yv = f32(args.backend, y);
    if (!dyv || !yv || code === undefined || code === 0 || code === 2 || code === 5) throw new Error(`${ACTIVATION_GRAD_KERNEL}: unsupported input`);
    const out = new Float32Array(dyv.length);
    blas.activationGrad(code, dyv, yv, out);
    return args.backend.makeTensorInfo(dy.shape, 'float32', out);
  };
}

const fr = Math.fround;

/**
 * One task's masked loss from logits [batch, width] (or [batch, 1]), labels and mask [batch]:
 * outputs mean = Σ mask·loss / max(Σ mask, 1), the sum, the count, and ∂mean/∂logits. The same
 * float32 operations in the same order as losses.ts's perRowLoss + maskedLossParts + maskedMean
 * (sums in double, as the cpu Sum kernel adds); the gradient is that of the composed ops.
 * attrs: taskType, width.
 */
const maskedLossKernel: Kernel = (args) => {
  const { logits, labels, mask } = args.inputs as Record<'logits' | 'labels' | 'mask', tf.TensorInfo>;
  const type = String(args.attrs?.taskType);
  const width = Number(args.attrs?.width);
  const lv = f32(args.backend, logits);
  const yv = args.backend.data.get(labels.dataId).values as Float32Array | Int32Array;
  const mv = f32(args.backend, mask);
  const rows = mask.shape[0];
  if (!lv || !mv || lv.length !== rows * (type === 'classification' || type === 'multilabel' ? width : 1)) throw new Error(`${MASKED_LOSS_KERNEL}: bad inputs`);
  const grad = new Float32Array(lv.length);
  const rowLoss = new Float32Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) count += mv[r];
  count = fr(count);
  const denom = Math.max(count, 1);
  if (type === 'classification') {
    const e = new Float32Array(width);
    for (let r = 0; r < rows; r++) {
      const o = r * width;
      let max = lv[o];
      for (let j = 0; j < width; j++) if (Number.isNaN(lv[o + j]) || lv[o + j] > max) max = lv[o + j];
      let s = 0;
      for (let j = 0; j < width; j++) s += (e[j] = fr(Math.exp(fr(lv[o + j] - max))));
      const sum32 = fr(s);
      const logSum = fr(Math.log(sum32));
      const label = yv[r];
      const inRange = label >= 0 && label < width;
      rowLoss[r] = inRange ? fr(-fr(fr(lv[o + label] - max) - logSum)) : 0;
      const g = fr(mv[r] / denom);
      // softmax as e / Σe (the composed ops take exp(log-softmax): equal but for the last bit)
      for (let j = 0; j < width; j++) grad[o + j] = fr(g * fr(fr(e[j] / sum32) - (j === label ? 1 : 0)));
    }
  } else if (type === 'binary' || type === 'multilabel') {
    const w = type === 'multilabel' ? width : 1;
    for (let r = 0; r < rows; r++) {
      const g = fr(mv[r] / denom);
      let acc = 0;
      for (let j = 0; j < w; j++) {
        const i = r * w + j;
        const x = lv[i];
        const z = yv[i];
        // max(x, 0) − x·z + log(1 + e^−|x|), and its gradient step(x) − z − sign(x)·e/(1 + e)
        const ex = fr(Math.exp(fr(-Math.abs(x))));
        const sce = fr(fr(fr(Math.max(0, x)) - fr(x * z)) + fr(Math.log1p(ex)));
        acc += w === 1 ? sce : fr(sce / w);
        const t = fr(ex / fr(ex + 1));
        const d = Number.isNaN(x) ? Number.NaN : x > 0 ? fr(fr(1 - z) - t) : fr(t - z);
        grad[i] = w === 1 ? fr(g * d) : fr(fr(g / w) * d);
      }
      rowLoss[r] = fr(acc);
    }
  } else if (type === 'regression') {
    for (let r = 0; r < rows; r++) {
      const d = fr(lv[r] - yv[r]);
      rowLoss[r] = fr(d * d);
      grad[r] = fr(fr(mv[r] / denom) * fr(d * 2));
    }
  } else {
    throw new Error(`${MASKED_LOSS_KERNEL}: unknown task type '${type}'`);
  }
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += fr(rowLoss[r] * mv[r]);
  sum = fr(sum);
  const mean = fr(sum / denom);
  const b = args.backend;
  return [b.makeTensorInfo([], 'float32', Float32Array.of(mean)), b.makeTensorInfo([], 'float32', Float32Array.of(sum)), b.makeTensorInfo([], 'float32', Float32Array.of(count)), b.makeTensorInfo(logits.shape, 'float32', grad)];
};

/** Σ_t fround(l_t · w_t), accumulated in float32 from 0 in task order, as `losses.reduce(add(acc, mul(l, w)))` does. */
const weightedSumKernel: Kernel = (args) => {
  const weights = args.attrs?.weights as number[];
  let acc = 0;
  for (let t = 0; t < weights.length; t++) {
    const v = f32(args.backend, args.inputs[`l${t}`]!);
    if (!v || v.length !== 1) throw new Error(`${WEIGHTED_SUM_KERNEL}: float32 scalars l0…l${weights.length - 1} expected`);
    acc = fr(acc + fr(v[0] * fr(weights[t])));
  }
  return args.backend.makeTensorInfo([], 'float32', Float32Array.of(acc));
};

/** Heads side by side: columns offsets of each head in the packed [k, Σ widths] kernel. */
function headOffsets(widths: number[]): number[] {
  const offsets = [0];
  for (const w of widths) offsets.push(offsets[offsets.length - 1] + w);
  return offsets;
}

/** Inputs x [m, k], k0…kT−1 [k, wₜ], b0…bT−1 [wₜ]; attrs widths. Outputs the packed kernels [k, Σ wₜ], then x·kₜ + bₜ for each head. */
function denseHeadsKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const widths = args.attrs?.widths as number[];
    const x = args.inputs.x!;
    const xv = f32(args.backend, x);
    const [m, k] = x.shape;
    const offsets = headOffsets(widths);
    const n = offsets[widths.length];
    if (!xv || x.shape.length !== 2) throw new Error(`${DENSE_HEADS_KERNEL}: a float32 [m, k] input expected`);
    const w = new Float32Array(k * n);
    const bias = new Float32Array(n);
    for (let t = 0; t < widths.length; t++) {
      const kt = f32(args.backend, args.inputs[`k${t}`]!);
      const bt = f32(args.backend, args.inputs[`b${t}`]!);
      const wt = widths[t];
      const off = offsets[t];
      if (!kt || !bt || kt.length !== k * wt || bt.length !== wt) throw new Error(`${DENSE_HEADS_KERNEL}: head ${t}: float32 kernel [${k}, ${wt}] and bias [${wt}] expected`);
      for (let r = 0; r < k; r++) for (let j = 0; j < wt; j++) w[r * n + off + j] = kt[r * wt + j];
      for (let j = 0; j < wt; j++) bias[off + j] = bt[j];
    }
    const y = new Float32Array(m * n);
    blas.sgemm(1, false, false, m, n, k, xv, 0, w, 0, y, 0);
    blas.epilogue(y, m, n, bias, 0, 0);
    const outs: tf.TensorInfo[] = [args.backend.makeTensorInfo([k, n], 'float32', w)];
    for (let t = 0; t < widths.length; t++) {
      const wt = widths[t];
      const off = offsets[t];
      const yt = new Float32Array(m * wt);
      for (let r = 0; r < m; r++) for (let j = 0; j < wt; j++) yt[r * wt + j] = y[r * n + off + j];
      outs.push(args.backend.makeTensorInfo([m, wt], 'float32', yt));
    }
    return outs;
  };
}

/** Inputs x, packed kernels w, dy0…dyT−1; attrs widths. Outputs dx = dY·wᵀ, dkₜ (columns of xᵀ·dY), dbₜ (column sums of dY). */
function denseHeadsGradKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const widths = args.attrs?.widths as number[];
    const x = args.inputs.x!;
    const xv = f32(args.backend, x);
    const wv = f32(args.backend, args.inputs.w!);
    const [m, k] = x.shape;
    const offsets = headOffsets(widths);
    const n = offsets[widths.length];
    if (!xv || !wv || wv.length !== k * n) throw new Error(`${DENSE_HEADS_GRAD_KERNEL}: bad inputs`);
    const dy = new Float32Array(m * n);
    for (let t = 0; t < widths.length; t++) {
      const d = f32(args.backend, args.inputs[`dy${t}`]!);
      const wt = widths[t];
      const off = offsets[t];
      if (!d || d.length !== m * wt) throw new Error(`${DENSE_HEADS_GRAD_KERNEL}: dy${t} [${m}, ${wt}] expected`);
      for (let r = 0; r < m; r++) for (let j = 0; j < wt; j++) dy[r * n + off + j] = d[r * wt + j];
    }
    const dx = new Float32Array(m * k);
    blas.sgemm(1, false, true, m, k, n, dy, 0, wv, 0, dx, 0);
    const dw = new Float32Array(k * n);
    blas.sgemm(1, true, false, k, n, m, xv, 0, dy, 0, dw, 0);
    const db = new Float32Array(n);
    blas.sumRows(dy, m, n, db);
    const outs: tf.TensorInfo[] = [args.backend.makeTensorInfo([m, k], 'float32', dx)];
    for (let t = 0; t < widths.length; t++) {
      const wt = widths[t];
      const off = offsets[t];
      const dk = new Float32Array(k * wt);
      for (let r = 0; r < k; r++) for (let j = 0; j < wt; j++) dk[r * wt + j] = dw[r * n + off + j];
      outs.push(args.backend.makeTensorInfo([k, wt], 'float32', dk));
    }
    for (let t = 0; t < widths.length; t++) outs.push(args.backend.makeTensorInfo([widths[t]], 'float32', db.slice(offsets[t], offsets[t + 1])));
    return outs;
  };
}

let gradientsRegistered = false;

/** Gradients of the fused kernels (registered once, for every backend that has the kernels). */
function registerFusedGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
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
  });
  tf.registerGradient({
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
  });
  tf.registerGradient({
    kernelName: WEIGHTED_SUM_KERNEL,
    gradFunc: (dy, _saved, attrs) => {
      const weights = (attrs as { weights: number[] }).weights;
      const grads: Record<string, () => tf.Tensor> = {};
      for (let t = 0; t < weights.length; t++) grads[`l${t}`] = () => tf.mul(dy as tf.Tensor, weights[t]);
      return grads;
    },
  });
  tf.registerGradient({
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
  });
}

export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
}

/**
 * One Adam step written over the variable and its moments, on the `blas` backend, when nothing
 * else shares their buffers (each held by one tensor: a clone kept as the best epoch's weights
 * shares the variable's buffer, and then this returns false and the caller runs the allocating
 * kernel). Saves three allocations and three assigns per variable per step. Same arithmetic as
 * `MtlFusedAdam`. The reference count cannot see a typed array that was handed to `tf.tensor` (on
 * this backend it becomes the tensor's buffer): whoever keeps such an array must give a copy.
 */
export function adamInPlace(value: tf.Tensor, gradient: tf.Tensor, m: tf.Tensor, v: tf.Tensor, at: AdamAttrs): boolean {
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
  native.adamInPlace(wa, ga, ma, va, at.beta1, 1 - at.beta1, at.beta2, 1 - at.beta2, at.oneMinusAccBeta1, at.oneMinusAccBeta2, at.epsilon, -at.learningRate);
  return true;
}
