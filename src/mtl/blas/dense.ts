import type * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from '../native-blas.js';
import { ACTIVATION_CODES } from './activation-codes.js';
import { ACTIVATION_GRAD_KERNEL, DENSE_KERNEL } from './kernel-names.js';
import { f32, type Kernel } from './kernel.js';

/** act(x·W + b) for a 2-d x: inputs x, kernel, bias (optional); attrs activation. */
export function denseKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { x, kernel, bias } = args.inputs as { x: tf.TensorInfo; kernel: tf.TensorInfo; bias?: tf.TensorInfo };
    const activation = String(args.attrs?.activation ?? 'linear');
    const code = ACTIVATION_CODES[activation];
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
export function activationGradKernel(blas: NativeBlas): Kernel {
  return (args) => {
    const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    const code = ACTIVATION_CODES[String(args.attrs?.activation)];
    const dyv = f32(args.backend, dy);
    const yv = f32(args.backend, y);
    if (!dyv || !yv || code === undefined || code === 0 || code === 2 || code === 5) throw new Error(`${ACTIVATION_GRAD_KERNEL}: unsupported input`);
    const out = new Float32Array(dyv.length);
    blas.activationGrad(code, dyv, yv, out);
    return args.backend.makeTensorInfo(dy.shape, 'float32', out);
  };
}
