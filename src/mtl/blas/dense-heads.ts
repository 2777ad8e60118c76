import type * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { DENSE_HEADS_GRAD_KERNEL, DENSE_HEADS_KERNEL } from './kernel-names.js';
import { f32, type Kernel } from './kernel.js';

/** Heads side by side: columns offsets of each head in the packed [k, Σ widths] kernel. */
function headOffsets(widths: number[]): number[] {
  const offsets = [0];
  for (const w of widths) offsets.push(offsets[offsets.length - 1] + w);
  return offsets;
}

/** Inputs x [m, k], k0…kT−1 [k, wₜ], b0…bT−1 [wₜ]; attrs widths. Outputs the packed kernels [k, Σ wₜ], then x·kₜ + bₜ for each head. */
export function denseHeadsKernel(blas: NativeBlas): Kernel {
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
export function denseHeadsGradKernel(blas: NativeBlas): Kernel {
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
