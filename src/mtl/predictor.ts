import * as tf from '@tensorflow/tfjs';
import { encodeFeatures, type LabelEncoder, type Preprocessing } from './preprocessing.js';
import { asList } from './model-builder.js';
import { keyOf, type Row, type Scalar } from './values.js';

export type TaskPrediction =
  | { label: Scalar; probabilities: Record<string, number> }
  | { labels: Scalar[]; probabilities: Record<string, number> }
  | { value: number };

export type InstancePrediction = Record<string, TaskPrediction>;

/**
 * Predicts every task for every instance with one `model.predict` call on the whole batch.
 * Throws FeatureValueError (with the instance index and feature) for an input it cannot encode.
 */
export function predictInstances(serving: tf.LayersModel, prep: Preprocessing, instances: Row[]): InstancePrediction[] {
  const n = instances.length;
  if (n === 0) return [];
  const x = encodeFeatures(prep, instances, true);
  const outputs = tf.tidy(() => {
    const input = tf.tensor2d(x, [n, prep.inputSize]);
    return asList(serving.predict(input, { batchSize: n }) as tf.Tensor | tf.Tensor[]).map((o) => o.dataSync() as Float32Array);
  });
  const predictions: InstancePrediction[] = Array.from({ length: n }, () => ({}));
  prep.tasks.forEach((enc, t) => {
    for (let r = 0; r < n; r++) predictions[r][enc.task] = decode(enc, outputs[t], r);
  });
  return predictions;
}

function decode(enc: LabelEncoder, out: Float32Array, r: number): TaskPrediction {
  switch (enc.type) {
    case 'regression':
      return { value: out[r] * enc.std + enc.mean };
    case 'binary': {
      const p = out[r];
      return { label: p >= 0.5 ? enc.labels[1] : enc.labels[0], probabilities: { [keyOf(enc.labels[0])]: 1 - p, [keyOf(enc.labels[1])]: p } };
    }
    case 'classification': {
      const k = enc.labels.length;
      const probabilities: Record<string, number> = {};
      let best = 0;
      for (let j = 0; j < k; j++) {
        probabilities[keyOf(enc.labels[j])] = out[r * k + j];
        if (out[r * k + j] > out[r * k + best]) best = j;
      }
      return { label: enc.labels[best], probabilities };
    }
    case 'multilabel': {
      const k = enc.labels.length;
      const probabilities: Record<string, number> = {};
      const labels: Scalar[] = [];
      for (let j = 0; j < k; j++) {
        probabilities[keyOf(enc.labels[j])] = out[r * k + j];
        if (out[r * k + j] >= 0.5) labels.push(enc.labels[j]);
      }
      return { labels, probabilities };
    }
  }
}
