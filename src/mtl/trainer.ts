import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from './preprocessing.js';
import { asList, type MultiTaskModel } from './model-builder.js';
import { maskedLossParts, maskedMean } from './losses.js';
import { evaluateSplit, type EncodedSplit, type SplitEvaluation } from './evaluation.js';
import type { MetricName, TaskMetrics } from './metrics.js';
import type { ResolvedSpec } from './spec.js';
import { createRng, shuffledIndices } from './rng.js';

export interface TaskEpochMetrics {
  loss: number | null;
  metric: number | null;
  valLoss: number | null;
  valMetric: number | null;
  metricName: MetricName;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Weighted training loss (Σ weight · task loss), averaged over the epoch's steps. */
  loss: number;
  valLoss: number | null;
  tasks: Record<string, TaskEpochMetrics>;
  /** Loss weight of each task in this epoch. */
  weights: Record<string, number>;
  samplesPerSec: number;
  durationMs: number;
}

export interface TrainResult {
  history: EpochReport[];
  /** Epoch whose weights the model keeps (best monitored loss). */
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  trainingTimeMs: number;
  samplesPerSec: number;
  validationMetrics: Record<string, TaskMetrics> | null;
  trainMetrics: Record<string, TaskMetrics>;
}

export interface TrainArgs {
  model: MultiTaskModel;
  prep: Preprocessing;
  train: EncodedSplit;
  validation: EncodedSplit | null;
  options: ResolvedSpec['training'];
  /** Static loss weight per task, in head order. */
  weights: number[];
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

/** Training metrics are measured on at most this many training rows per epoch. */
export const TRAIN_METRIC_ROWS = 2048;

/**
 * The multi-task training loop: per step, every head's masked loss, their weighted sum, one
 * gradient over all trainable weights, Adam. Keeps the best epoch's weights (early stopping on the
 * weighted validation loss, or training loss when there is no validation split).
 */
export async function trainMultiTask(args: TrainArgs): Promise<TrainResult> {
  const { model, prep, train, validation, options, weights } = args;
  const heads = model.heads;
  const optimizer = tf.train.adam(options.learningRate);
  const variables = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
  const rng = createRng(options.seed);
  const data = tf.tidy(() => ({
    x: tf.tensor2d(train.x, [train.rows, prep.inputSize]),
    labels: train.labels.map((l, t) => ({
      values: heads[t].type === 'multilabel'
        ? tf.tensor2d(l.values as Float32Array, [train.rows, l.width])
        : tf.tensor1d(l.values, l.values instanceof Int32Array ? 'int32' : 'float32'),
      mask: tf.tensor1d(l.mask),
    })),
  }));
  const history: EpochReport[] = [];
  let best: { epoch: number; loss: number; weights: tf.Tensor[] } | null = null;
  let bestEval: { train: SplitEvaluation; validation: SplitEvaluation | null } | null = null;
  let stoppedEarly = false;
  let trainingTimeMs = 0;
  const patience = options.earlyStopping === false ? Infinity : options.earlyStopping.patience;
  const minDelta = options.earlyStopping === false ? 0 : options.earlyStopping.minDelta;

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = performance.now();
      const order = shuffledIndices(train.rows, rng);
      let totals = tf.keep(tf.zeros([2 * heads.length + 1]));
      let steps = 0;
      for (let start = 0; start < train.rows; start += options.batchSize) {
        const batch = order.subarray(start, Math.min(start + options.batchSize, train.rows));
        const stepStats = trainStep(model, optimizer, variables, data, batch, weights);
        const next = tf.keep(tf.add(totals, stepStats));
        tf.dispose([totals, stepStats]);
        totals = next;
        steps++;
      }
      const sums = totals.dataSync();
      totals.dispose();
      const durationMs = performance.now() - started;
      trainingTimeMs += durationMs;

      const trainEval = evaluateSplit(model, prep, weights, train, TRAIN_METRIC_ROWS);
      const valEval = validation && validation.rows > 0 ? evaluateSplit(model, prep, weights, validation) : null;
      const report: EpochReport = {
        epoch,
        epochs: options.epochs,
        loss: sums[2 * heads.length] / steps,
        valLoss: valEval ? valEval.loss : null,
        tasks: {},
        weights: Object.fromEntries(heads.map((h, t) => [h.name, weights[t]])),
        samplesPerSec: (train.rows / durationMs) * 1000,
        durationMs,
      };
      heads.forEach((h, t) => {
        report.tasks[h.name] = {
          loss: sums[heads.length + t] > 0 ? sums[t] / sums[heads.length + t] : null,
          metric: trainEval.tasks[t].metrics.metric,
          valLoss: valEval ? valEval.tasks[t].loss : null,
          valMetric: valEval ? valEval.tasks[t].metrics.metric : null,
          metricName: trainEval.tasks[t].metrics.metricName,
        };
      });
      history.push(report);

      const monitored = valEval ? valEval.loss : report.loss;
      if (!best || monitored < best.loss - minDelta) {
        if (best) tf.dispose(best.weights);
        best = { epoch, loss: monitored, weights: variables.map((v) => tf.keep(v.clone())) };
        bestEval = { train: trainEval, validation: valEval };
      }
      await args.onEpoch?.(report);
      if (epoch - best.epoch >= patience) {
        stoppedEarly = epoch < options.epochs;
        break;
      }
    }
    if (best) variables.forEach((v, i) => v.assign(best!.weights[i]));
  } finally {
    if (best) tf.dispose(best.weights);
    tf.dispose([data.x, ...data.labels.flatMap((l) => [l.values, l.mask])]);
    optimizer.dispose();
  }

  const named = (e: SplitEvaluation) => Object.fromEntries(heads.map((h, t) => [h.name, e.tasks[t].metrics]));
  const epochsRun = history.length;
  return {
    history,
    bestEpoch: best?.epoch ?? 0,
    epochsRun,
    stoppedEarly,
    trainingTimeMs,
    samplesPerSec: trainingTimeMs > 0 ? (train.rows * epochsRun * 1000) / trainingTimeMs : 0,
    validationMetrics: bestEval?.validation ? named(bestEval.validation) : null,
    trainMetrics: bestEval ? named(bestEval.train) : {},
  };
}

interface TrainTensors {
  x: tf.Tensor2D;
  labels: { values: tf.Tensor; mask: tf.Tensor1D }[];
}

/**
 * One optimisation step on a batch. Returns [loss sums per task, label counts per task, weighted
 * loss] so the epoch's numbers are read from the device once, not once per step.
 */
function trainStep(model: MultiTaskModel, optimizer: tf.Optimizer, variables: tf.Variable[], data: TrainTensors, batch: Int32Array, weights: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const idx = tf.tensor1d(batch, 'int32');
    const xb = tf.gather(data.x, idx);
    const labels = data.labels.map((l) => ({ values: tf.gather(l.values, idx), mask: tf.gather(l.mask, idx) }));
    let stats: tf.Tensor1D | null = null;
    const { grads } = tf.variableGrads(() => {
      const logits = asList(model.training.apply(xb, { training: true }) as tf.Tensor | tf.Tensor[]);
      const parts = model.heads.map((h, t) => maskedLossParts(h.type, logits[t], labels[t].values, labels[t].mask, h.width));
      const total = parts.reduce<tf.Scalar>((acc, p, t) => tf.add(acc, tf.mul(maskedMean(p.sum, p.count), weights[t])), tf.scalar(0));
      stats = tf.keep(tf.stack([...parts.map((p) => p.sum), ...parts.map((p) => p.count), total]) as tf.Tensor1D);
      return total;
    }, variables);
    optimizer.applyGradients(grads);
    return stats!;
  });
}
