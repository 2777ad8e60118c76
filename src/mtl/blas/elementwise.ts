import type * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { broadcastLoops } from './broadcast-loops.js';
import { f32, sameShape, type Kernel } from './kernel.js';

/** The float32 elementwise kernels the native loops cover, by tfjs kernel name, with their native op codes. */
export const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
export const UNARY_OPS: Record<string, number> = { Relu: 0, Step: 1, Neg: 2, Exp: 3, Log: 4, Log1p: 5, Abs: 6, Sqrt: 7, Square: 8, Sigmoid: 9, Elu: 10, Relu6: 11, Tanh: 12 };

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

/** A float32 binary kernel (with broadcasting) as one native loop; other inputs go to the cpu kernel. */
export function binaryKernel(blas: NativeBlas, op: number, fallback: Kernel): Kernel {
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

/** A float32 unary kernel as one native loop; other dtypes go to the cpu kernel. */
export function unaryKernel(blas: NativeBlas, op: number, fallback: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const xv = f32(args.backend, x);
    if (!xv) return fallback(args);
    const out = new Float32Array(xv.length);
    blas.unary(op, xv, out, Number(args.attrs?.alpha ?? 0));
    return args.backend.makeTensorInfo(x.shape, 'float32', out);
  };
}
