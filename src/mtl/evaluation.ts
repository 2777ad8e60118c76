import * as tf from '@tensorflow/tfjs';
import type { EncodedLabels, LabelEncoder, Preprocessing } from './preprocessing.js';
import { asList, type MultiTaskModel } from './model-builder.js';
import { maskedLossParts } from './losses.js';
import { accuracy, auc, binaryAccuracy, microF1, PRIMARY_METRIC, regressionMetrics, type TaskMetrics } from './metrics.js';

/** Encoded rows of one split: inputs n × inputSize, and each task's labels with their mask. */
export interface EncodedSplit {
  x: Float32Array;
  rows: number;
  labels: EncodedLabels[];
}

export interface SplitEvaluation {
  /** Σ weight_t · loss_t over the tasks. */
  loss: number;
  tasks: { loss: number | null; metrics: TaskMetrics }[];
}

const EVAL_BATCH = 1024;

/** Evaluates every task on a split (optionally its first `limit` rows) in inference mode. */
export function evaluateSplit(model: MultiTaskModel, prep: Preprocessing, weights: number[], split: EncodedSplit, limit = split.rows): SplitEvaluation {
  const n = Math.min(limit, split.rows);
  const d = prep.inputSize;
  const sums = new Float64Array(model.heads.length);
  const counts = new Float64Array(model.heads.length);
  const outputs = model.heads.map((h) => new Float32Array(n * h.width));
  for (let start = 0; start < n; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, n - start);
    const parts = tf.tidy(() => {
      const xb = tf.tensor2d(split.x.subarray(start * d, (start + size) * d), [size, d]);
      const logits = asList(model.training.apply(xb, { training: false }) as tf.Tensor | tf.Tensor[]);
      return model.heads.map((head, t) => {
        const lab = split.labels[t];
        const labels = head.type === 'multilabel'
          ? tf.tensor2d(lab.values.subarray(start * head.width, (start + size) * head.width) as Float32Array, [size, head.width])
          : tf.tensor1d(lab.values.subarray(start, start + size), lab.values instanceof Int32Array ? 'int32' : 'float32');
        const mask = tf.tensor1d(lab.mask.subarray(start, start + size));
        const { sum, count } = maskedLossParts(head.type, logits[t], labels, mask, head.width);
        const out = head.type === 'classification' ? tf.softmax(logits[t]) : head.type === 'regression' ? logits[t] : tf.sigmoid(logits[t]);
        return { sum, count, out };
      });
    });
    parts.forEach((p, t) => {
      sums[t] += p.sum.dataSync()[0];
      counts[t] += p.count.dataSync()[0];
      outputs[t].set(p.out.dataSync() as Float32Array, start * model.heads[t].width);
      tf.dispose([p.sum, p.count, p.out]);
    });
  }
  let loss = 0;
  const tasks = model.heads.map((head, t) => {
    const taskLoss = counts[t] > 0 ? sums[t] / counts[t] : null;
    if (taskLoss !== null) loss += weights[t] * taskLoss;
    const lab = split.labels[t];
    return { loss: taskLoss, metrics: taskMetrics(prep.tasks[t], outputs[t], lab.values.subarray(0, n * head.width), lab.mask.subarray(0, n)) };
  });
  return { loss, tasks };
}

/** The metrics of one task from its head's outputs (probabilities, or standardised values). */
export function taskMetrics(enc: LabelEncoder, out: Float32Array, labels: ArrayLike<number>, mask: Float32Array): TaskMetrics {
  let count = 0;
  for (let r = 0; r < mask.length; r++) if (mask[r]) count++;
  const metricName = PRIMARY_METRIC[enc.type];
  switch (enc.type) {
    case 'classification': {
      const acc = accuracy(out, enc.labels.length, labels, mask);
      return { metric: acc, metricName, accuracy: acc, count };
    }
    case 'binary': {
      const a = auc(out, labels, mask);
      return { metric: a, metricName, auc: a, accuracy: binaryAccuracy(out, labels, mask), count };
    }
    case 'multilabel': {
      const f1 = microF1(out, enc.labels.length, labels, mask);
      return { metric: f1, metricName, microF1: f1, count };
    }
    case 'regression': {
      const unscale = (v: ArrayLike<number>) => Float64Array.from(v, (x) => x * enc.std + enc.mean);
      const { rmse, r2 } = regressionMetrics(unscale(out), unscale(labels), mask);
      return { metric: rmse, metricName, rmse, r2, count };
    }
  }
}
