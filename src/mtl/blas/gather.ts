import * as tf from '@tensorflow/tfjs';
import { GATHER_ROWS_KERNEL } from './kernel-names.js';
import type { Kernel } from './kernel.js';

/** Rows of a float32/int32 tensor by index (axis 0, no batch dims): what each training step does to its batch. */
export function gatherKernel(fallback: Kernel): Kernel {
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
export const gatherRowsKernel: Kernel = (args) => {
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
