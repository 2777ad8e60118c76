import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { ACTIVATION_CODES } from './activation-codes.js';
import { f32, type Kernel } from './kernel.js';

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

/** `BatchMatMul`: cblas_sgemm over the (broadcast) batch, transposes handled by BLAS. */
export function batchMatMulKernel(blas: NativeBlas, fallback: Kernel): Kernel {
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

/** `_FusedMatMul`: the product, then bias and activation in one native pass (the epilogue). */
export function fusedMatMulKernel(blas: NativeBlas, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo | null };
    const transposeA = Boolean(args.attrs?.transposeA);
    const transposeB = Boolean(args.attrs?.transposeB);
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    const code = ACTIVATION_CODES[activation];
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
