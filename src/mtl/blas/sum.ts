import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { f32, type Kernel } from './kernel.js';

/**
 * Sum of a float32 tensor over one contiguous block of axes without transposing first: the
 * leading axes (a bias gradient, over the batch) in one pass, a middle block (MMoE's sum over its
 * experts) one outer slice at a time. Each output adds its inputs in the cpu kernel's order.
 */
export function sumKernel(blas: NativeBlas, fallback: Kernel): Kernel {
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
