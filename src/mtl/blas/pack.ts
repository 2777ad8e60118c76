import * as tf from '@tensorflow/tfjs';
import { f32, sameShape, type Kernel } from './kernel.js';

/** Stack of same-shape float32 tensors along a new first axis: their values one after another. */
export function packKernel(fallback: Kernel): Kernel {
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
export function unpackKernel(fallback: Kernel): Kernel {
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
