import * as tf from '@tensorflow/tfjs';
import { encodeFeatures, type LabelEncoder, type Preprocessing } from './preprocessing.js';
import { asList } from './model-builder.js';
import { keyOf, type Row, type Scalar } from './values.js';

/** A cascaded task's probabilities given its parent's event (cascade.ts): p(task | parent), beside the joint p(parent and task) of `label`/`probabilities`. */
export interface ConditionalPrediction {
  given: string;
  label: Scalar;
  probabilities: Record<string, number>;
}

export type TaskPrediction =
  | { label: Scalar; probabilities: Record<string, number>; conditional?: ConditionalPrediction }
  | { labels: Scalar[]; probabilities: Record<string, number> }
  | { value: number };

export type InstancePrediction = Record<string, TaskPrediction>;

/**
 * The serving model's outputs for `rows` rows, one row-major Float32Array per head in task order
 * (rows × the head's width), then one per cascaded task in task order: its conditional probability.
 */
export type HeadOutputs = Float32Array[];

/**
 * Predicts every task for every instance with one `model.predict` call on the whole batch.
 * Throws FeatureValueError (with the instance index and feature) for an input it cannot encode.
 * The three steps are also exported on their own, so a server can encode each request, run many
 * requests through one forward pass, and decode each request's rows.
 */
export function predictInstances(serving: tf.LayersModel, prep: Preprocessing, instances: Row[]): InstancePrediction[] {
  const n = instances.length;
  if (n === 0) return [];
  const x = encodeInstances(prep, instances);
  return decodePredictions(prep, forwardPass(serving, prep.inputSize, x, n), n);
}

/** Encodes predict instances (every feature key required); throws FeatureValueError naming the instance and feature. */
export function encodeInstances(prep: Preprocessing, instances: Row[]): Float32Array {
  return encodeFeatures(prep, instances, true);
}

/**
 * One `model.predict` on `rows` encoded rows (row-major, rows × inputSize), every head from the
 * same call. The batch size is the whole input: tfjs would otherwise cut it into 32-row slices.
 */
export function forwardPass(serving: tf.LayersModel, inputSize: number, x: Float32Array, rows: number): HeadOutputs {
  // The outputs leave the scope as tensors and are read after it: a tidy returning the typed arrays
  // would walk every element of them looking for tensors (milliseconds per 1024-row pass).
  const outputs = tf.tidy(() => {
    const input = tf.tensor2d(x, [rows, inputSize]);
    return asList(serving.predict(input, { batchSize: rows }) as tf.Tensor | tf.Tensor[]);
  });
  try {
    return outputs.map((o) => o.dataSync() as Float32Array);
  } finally {
    tf.dispose(outputs);
  }
}

/** Turns head outputs for `rows` rows into one prediction per row, labels as written in the dataset. */
export function decodePredictions(prep: Preprocessing, outputs: HeadOutputs, rows: number): InstancePrediction[] {
  const predictions: InstancePrediction[] = Array.from({ length: rows }, () => ({}));
  prep.tasks.forEach((enc, t) => {
    const decode = decoderFor(enc);
    for (let r = 0; r < rows; r++) predictions[r][enc.task] = decode(outputs[t], r);
  });
  let extra = prep.tasks.length;
  for (const enc of prep.tasks) {
    if (enc.type !== 'binary' || enc.dependsOn === undefined) continue;
    const given = enc.dependsOn;
    const decode = decoderFor(enc);
    const out = outputs[extra++];
    for (let r = 0; r < rows; r++) {
      const { label, probabilities } = decode(out, r) as { label: Scalar; probabilities: Record<string, number> };
      (predictions[r][enc.task] as { conditional?: ConditionalPrediction }).conditional = { given, label, probabilities };
    }
  }
  return predictions;
}

/** A row decoder for one task, with the label keys worked out once rather than per row. */
function decoderFor(enc: LabelEncoder): (out: Float32Array, r: number) => TaskPrediction {
  switch (enc.type) {
    case 'regression':
      return (out, r) => ({ value: out[r] * enc.std + enc.mean });
    case 'binary': {
      const [negative, positive] = enc.labels;
      const [negativeKey, positiveKey] = enc.labels.map(keyOf);
      return (out, r) => {
        const p = out[r];
        return { label: p >= 0.5 ? positive : negative, probabilities: { [negativeKey]: 1 - p, [positiveKey]: p } };
      };
    }
    case 'classification': {
      const k = enc.labels.length;
      const keys = enc.labels.map(keyOf);
      return (out, r) => {
        const probabilities: Record<string, number> = {};
        let best = 0;
        for (let j = 0; j < k; j++) {
          probabilities[keys[j]] = out[r * k + j];
          if (out[r * k + j] > out[r * k + best]) best = j;
        }
        return { label: enc.labels[best], probabilities };
      };
    }
    case 'multilabel': {
      const k = enc.labels.length;
      const keys = enc.labels.map(keyOf);
      return (out, r) => {
        const probabilities: Record<string, number> = {};
        const labels: Scalar[] = [];
        for (let j = 0; j < k; j++) {
          probabilities[keys[j]] = out[r * k + j];
          if (out[r * k + j] >= 0.5) labels.push(enc.labels[j]);
        }
        return { labels, probabilities };
      };
    }
  }
}
