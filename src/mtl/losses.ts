import * as tf from '@tensorflow/tfjs';
import type { TaskType } from './spec.js';
import { MASKED_LOSS_KERNEL, WEIGHTED_SUM_KERNEL, hasKernel } from './blas/index.js';

/**
 * Per-row loss of one head, from logits: softmax cross-entropy (classification), sigmoid
 * cross-entropy (binary; mean over labels for multilabel), squared error on the standardised
 * target (regression). Shape [batch].
 */
export function perRowLoss(type: TaskType, logits: tf.Tensor, labels: tf.Tensor, width: number): tf.Tensor1D {
  return tf.tidy(() => {
    switch (type) {
      case 'classification': {
        const oneHot = tf.oneHot(labels.toInt() as tf.Tensor1D, width);
        return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1)) as tf.Tensor1D;
      }
      case 'binary':
        return sigmoidCrossEntropy(logits.reshape([-1]), labels) as tf.Tensor1D;
      case 'multilabel':
        return tf.mean(sigmoidCrossEntropy(logits, labels.reshape(logits.shape)), -1) as tf.Tensor1D;
      case 'regression':
        return tf.square(tf.sub(logits.reshape([-1]), labels)) as tf.Tensor1D;
    }
  });
}

/** max(x, 0) − x·z + log(1 + e^−|x|): stable for any logit. */
function sigmoidCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
}

/**
 * Masked loss of one task: rows without a label (mask 0) add nothing and do not count. Returns the
 * masked sum and the number of labelled rows; the task loss is sum / max(count, 1).
 */
export function maskedLossParts(type: TaskType, logits: tf.Tensor, labels: tf.Tensor, mask: tf.Tensor, width: number): { sum: tf.Scalar; count: tf.Scalar } {
  return tf.tidy(() => {
    const rows = perRowLoss(type, logits, labels, width);
    return { sum: tf.sum(tf.mul(rows, mask)) as tf.Scalar, count: tf.sum(mask) as tf.Scalar };
  });
}

export function maskedMean(sum: tf.Scalar, count: tf.Scalar): tf.Scalar {
  return tf.div(sum, tf.maximum(count, 1)) as tf.Scalar;
}


/**
 * maskedLossParts + maskedMean as one kernel with its own gradient (the `blas` backend): the same
 * values, recorded as one node instead of a dozen, each with clones of its inputs.
 */
export function fusedMaskedLoss(type: TaskType, logits: tf.Tensor, labels: tf.Tensor, mask: tf.Tensor, width: number): { sum: tf.Scalar; count: tf.Scalar; mean: tf.Scalar } {
  const [mean, sum, count] = tf.engine().runKernel(MASKED_LOSS_KERNEL, { logits, labels, mask }, { taskType: type, width }) as tf.Scalar[];
  return { sum, count, mean };
}

/**
 * Σ_t weights[t] · losses[t]: the static (and DWA) combination of the task losses. One kernel where
 * the backend has it (`blas`), else the sum of products; the same float32 value either way.
 */
export function weightedSum(losses: tf.Scalar[], weights: number[]): tf.Scalar {
  if (losses.length > 0 && hasKernel(WEIGHTED_SUM_KERNEL)) {
    const inputs: tf.NamedTensorMap = {};
    losses.forEach((l, t) => (inputs[`l${t}`] = l));
    return tf.engine().runKernel(WEIGHTED_SUM_KERNEL, inputs, { weights: weights.slice(0, losses.length) }) as tf.Scalar;
  }
  return tf.tidy(() => losses.reduce<tf.Scalar>((acc, l, t) => tf.add(acc, tf.mul(l, weights[t])), tf.scalar(0)));
}
