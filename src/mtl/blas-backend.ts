import * as tf from '@tensorflow/tfjs';
import { loadNativeBlas, type NativeBlas } from './native-blas.js';

/** Name of the backend: TensorFlow.js's plain JS `cpu` backend with its hot kernels on native BLAS. */
export const BLAS_BACKEND = 'blas';
/** The fused Adam update kernel (see FusedAdamOptimizer); outputs [value, m, v]. */
export const FUSED_ADAM_KERNEL = 'MtlFusedAdam';

type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** The parts of tfjs-backend-cpu's MathBackendCPU the kernels below use. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: BackendValues } };
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

/**
 * Registers the `blas` backend once: a fresh instance of tfjs's `cpu` backend (tensor data are
 * plain typed arrays) with every cpu kernel, where these are replaced:
 *
 * - `BatchMatMul`, `_FusedMatMul`: cblas_sgemm (transposes handled by BLAS, not by copies or
 *   strided loops), bias and activation in one native pass;
 * - `GatherV2` on axis 0 (batch rows): row copies instead of per-element index arithmetic;
 * - `Sum` over the leading axes (bias gradients): one pass instead of a transpose then a sum;
 * - float32 elementwise kernels (Add, Sub, Multiply, RealDiv, Maximum, Minimum,
 *   SquaredDifference with broadcasting; Relu, Step, Neg, Exp, Log, Log1p, Abs, Sqrt, Square,
 *   Sigmoid, Elu, Relu6): one native loop each. The cpu backend's generic loops call the operation
 *   through a shared closure, and its broadcasting path allocates index arrays for every element
 *   (a bias add of 256×256 took milliseconds);
 * - `MtlFusedAdam` (new): the whole Adam update of one variable in one native loop.
 *
 * Each computes what the cpu kernel computes (float32, same operation order where it matters; the
 * matmul's float32 accumulation differs from the JS double accumulation by ~1e-7 relative).
 * Inputs the fast paths do not cover (other dtypes, odd broadcasts, prelu) go to the cpu kernel.
 * `MTL_BLAS_THREADS` sets OpenBLAS's thread count (default: OpenBLAS's own, i.e. one per core).
 */
export function registerBlasBackend(): BlasBackendInfo {
  if (registered) return registered;
  const load = loadNativeBlas();
  if (!load.ok) return (registered = { ok: false, reason: load.reason, kernels: [] });
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) return (registered = { ok: false, reason: 'the tfjs cpu backend is not registered', kernels: [] });
  const blas = load.blas;
  const threads = Number(process.env.MTL_BLAS_THREADS);
  if (Number.isInteger(threads) && threads > 0) blas.setThreads(threads);

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
    ...Object.entries(BINARY_OPS).map(([name, op]) => [name, binaryKernel(blas, op, original(name))] as const),
    ...Object.entries(UNARY_OPS).map(([name, op]) => [name, unaryKernel(blas, op, original(name))] as const),
  ] as const;
  for (const [name, fn] of replaced) replace(name, fn);
  tf.registerKernel({ kernelName: FUSED_ADAM_KERNEL, backendName: BLAS_BACKEND, kernelFunc: fusedAdamKernel(blas) as unknown as tf.KernelFunc });
  return (registered = {
    ok: true,
    kernels: [...replaced.map(([n]) => n), FUSED_ADAM_KERNEL],
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

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5 };

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
    if (axis !== 0 || batchDims !== 0 || x.shape.length === 0 || !(xv instanceof Float32Array || xv instanceof Int32Array) || !(iv instanceof Int32Array)) return fallback(args);
    const dim = x.shape[0];
    const row = tf.util.sizeFromShape(x.shape.slice(1));
    const out = xv instanceof Float32Array ? new Float32Array(iv.length * row) : new Int32Array(iv.length * row);
    for (let i = 0; i < iv.length; i++) {
      const r = iv[i];
      if (!(r >= 0 && r < dim)) return fallback(args); // the cpu kernel throws the usual error
      if (row === 1) out[i] = xv[r];
      else out.set(xv.subarray(r * row, r * row + row), i * row);
    }
    return args.backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, out);
  };
}

/** Sum over the leading axes of a float32 tensor (a bias gradient: over the batch) without transposing first. */
function sumKernel(blas: NativeBlas, fallback: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const xv = f32(args.backend, x);
    const rank = x.shape.length;
    if (!xv || rank < 2) return fallback(args);
    const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape).sort((p, q) => p - q);
    const leading = axes.length < rank && axes.every((a, i) => a === i);
    if (!leading) return fallback(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = tf.util.sizeFromShape(x.shape.slice(axes.length));
    const out = new Float32Array(cols);
    blas.sumRows(xv, rows, cols, out);
    const shape = args.attrs?.keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    return args.backend.makeTensorInfo(shape, 'float32', out);
  };
}

const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
const UNARY_OPS: Record<string, number> = { Relu: 0, Step: 1, Neg: 2, Exp: 3, Log: 4, Log1p: 5, Abs: 6, Sqrt: 7, Square: 8, Sigmoid: 9, Elu: 10, Relu6: 11 };

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
  const stridesOf = (shape: number[]) => {
    const s = new Array<number>(r).fill(0);
    let acc = 1;
    for (let i = r - 1, j = shape.length - 1; i >= 0 && j >= 0; i--, j--) {
      s[i] = shape[j] === 1 ? 0 : acc;
      acc *= shape[j];
    }
    return s;
  };
  const sA = stridesOf(aShape);
  const sB = stridesOf(bShape);
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

function binaryKernel(blas: NativeBlas, op: number, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = f32(args.backend, a);
    const bv = f32(args.backend, b);
    const loops = av && bv ? broadcastLoops(a.shape, b.shape) : null;
    if (!loops || av!.length === 0 || bv!.length === 0) return fallback(args);
    const { dims, sa, sb } = loops;
    const out = new Float32Array(dims[0] * dims[1] * dims[2]);
    blas.binary(op, out, av!, bv!, dims[0], dims[1], dims[2], sa[0], sa[1], sa[2], sb[0], sb[1], sb[2]);
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
    const size = wv.length;
    const outW = new Float32Array(size);
    const outM = new Float32Array(size);
    const outV = new Float32Array(size);
    blas.adam(wv, gv, mv, vv, outW, outM, outV, at.beta1, 1 - at.beta1, at.beta2, 1 - at.beta2, at.oneMinusAccBeta1, at.oneMinusAccBeta2, at.epsilon, -at.learningRate);
    return [
      args.backend.makeTensorInfo(value.shape, 'float32', outW),
      args.backend.makeTensorInfo(value.shape, 'float32', outM),
      args.backend.makeTensorInfo(value.shape, 'float32', outV),
    ];
  };
}
