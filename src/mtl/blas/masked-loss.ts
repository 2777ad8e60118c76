import type * as tf from '@tensorflow/tfjs';
import { MASKED_LOSS_KERNEL } from './kernel-names.js';
import { f32, type Kernel } from './kernel.js';

const fr = Math.fround;

/** One batch of one task: the inputs, and the per-row losses and ∂mean/∂logits a loss fills in. */
interface LossRows {
  logits: Float32Array;
  labels: Float32Array | Int32Array;
  mask: Float32Array;
  rows: number;
  /** Logits per row (classes, or labels of a multilabel task). */
  width: number;
  /** max(Σ mask, 1): the mean's denominator. */
  denom: number;
  rowLoss: Float32Array;
  grad: Float32Array;
}

/** Softmax cross-entropy of integer labels (0 for a label out of range), and its gradient. */
function softmaxCrossEntropy(b: LossRows): void {
  const { logits: lv, labels: yv, mask: mv, rows, width, denom, rowLoss, grad } = b;
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
}

/** Sigmoid cross-entropy from logits, averaged over a row's `w` labels (1: binary), and its gradient. */
function sigmoidCrossEntropy(b: LossRows, w: number): void {
  const { logits: lv, labels: yv, mask: mv, rows, denom, rowLoss, grad } = b;
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
}

/** Squared error of one output per row, and its gradient. */
function squaredError(b: LossRows): void {
  const { logits: lv, labels: yv, mask: mv, rows, denom, rowLoss, grad } = b;
  for (let r = 0; r < rows; r++) {
    const d = fr(lv[r] - yv[r]);
    rowLoss[r] = fr(d * d);
    grad[r] = fr(fr(mv[r] / denom) * fr(d * 2));
  }
}

/** Each task type's per-row loss and gradient. */
const ROW_LOSSES: Record<string, (b: LossRows) => void> = {
  classification: softmaxCrossEntropy,
  binary: (b) => sigmoidCrossEntropy(b, 1),
  multilabel: (b) => sigmoidCrossEntropy(b, b.width),
  regression: squaredError,
};

/**
 * One task's masked loss from logits [batch, width] (or [batch, 1]), labels and mask [batch]:
 * outputs mean = Σ mask·loss / max(Σ mask, 1), the sum, the count, and ∂mean/∂logits. The same
 * float32 operations in the same order as losses.ts's perRowLoss + maskedLossParts + maskedMean
 * (sums in double, as the cpu Sum kernel adds); the gradient is that of the composed ops.
 * attrs: taskType, width.
 */
export const maskedLossKernel: Kernel = (args) => {
  const { logits, labels, mask } = args.inputs as Record<'logits' | 'labels' | 'mask', tf.TensorInfo>;
  const type = String(args.attrs?.taskType);
  const width = Number(args.attrs?.width);
  const lv = f32(args.backend, logits);
  const yv = args.backend.data.get(labels.dataId).values as Float32Array | Int32Array;
  const mv = f32(args.backend, mask);
  const rows = mask.shape[0];
  if (!lv || !mv || lv.length !== rows * (type === 'classification' || type === 'multilabel' ? width : 1)) throw new Error(`${MASKED_LOSS_KERNEL}: bad inputs`);
  let count = 0;
  for (let r = 0; r < rows; r++) count += mv[r];
  count = fr(count);
  const denom = Math.max(count, 1);
  const rowLosses = Object.hasOwn(ROW_LOSSES, type) ? ROW_LOSSES[type] : undefined;
  if (!rowLosses) throw new Error(`${MASKED_LOSS_KERNEL}: unknown task type '${type}'`);
  const b: LossRows = { logits: lv, labels: yv, mask: mv, rows, width, denom, rowLoss: new Float32Array(rows), grad: new Float32Array(lv.length) };
  rowLosses(b);
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += fr(b.rowLoss[r] * mv[r]);
  sum = fr(sum);
  const mean = fr(sum / denom);
  const out = args.backend;
  return [out.makeTensorInfo([], 'float32', Float32Array.of(mean)), out.makeTensorInfo([], 'float32', Float32Array.of(sum)), out.makeTensorInfo([], 'float32', Float32Array.of(count)), out.makeTensorInfo(logits.shape, 'float32', b.grad)];
};
