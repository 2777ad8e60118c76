import type * as tf from '@tensorflow/tfjs';
import { f32, type Kernel } from './kernel.js';

const fr = Math.fround;

/** Softmax over the last axis, as the cpu kernel computes it (max, exp(x − max), Σ in double, divide). */
export function softmaxKernel(fallback: Kernel): Kernel {
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
