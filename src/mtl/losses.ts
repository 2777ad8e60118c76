import * as tf from '@tensorflow/tfjs';
import type { TaskType } from './spec.js';

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
