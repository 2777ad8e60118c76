import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from './preprocessing.js';
import { asList, type MultiTaskModel } from './model-builder.js';
import { fusedMaskedLoss, maskedLossParts, maskedMean } from './losses.js';
import { evaluateSplit, type EncodedSplit, type SplitEvaluation } from './evaluation.js';
import { higherIsBetter, type MetricName, type TaskMetrics } from './metrics.js';
import type { Monitor, ResolvedLossWeighting, ResolvedSpec } from './spec.js';
import { createRng, shuffledIndices } from './rng.js';
import { createLossWeighting, GradNormWeights, projectConflictingGradients, type LossWeighting, type LossWeightingState } from './loss-weighting.js';
import { TaskAffinityMeter, type TaskAffinity } from './task-affinity.js';
import { createAdam } from './fused-adam.js';
import { compileFusedForward, type FusedForward } from './fused-forward.js';
import { GATHER_ROWS_KERNEL, hasKernel, MASKED_LOSS_KERNEL } from './blas/index.js';

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
  /** Loss weight of each task in this epoch (as the loss-weighting strategy set it). */
  weights: Record<string, number>;
  /** The value model selection watches (lower is better); see `training.monitor`. */
  monitored: number;
  samplesPerSec: number;
  durationMs: number;
}

export interface TrainResult {
  history: EpochReport[];
  /** Epoch whose weights the model keeps (best monitored value). */
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  trainingTimeMs: number;
  samplesPerSec: number;
  validationMetrics: Record<string, TaskMetrics> | null;
  trainMetrics: Record<string, TaskMetrics>;
  affinity: TaskAffinity | null;
}

/**
 * Everything the loop needs to continue after its last finished epoch in another process: weights,
 * Adam's moments, the loss-weighting and affinity state, the best epoch so far and the history.
 * Plain data (numbers and Float32Arrays) so a store can write it.
 */
export interface TrainerCheckpoint {
  epoch: number;
  history: EpochReport[];
  taskLossHistory: number[][];
  trainingTimeMs: number;
  weights: Float32Array[];
  optimizer: { name: string; shape: number[]; values: Float32Array }[];
  weighting: LossWeightingState;
  affinity: ReturnType<TaskAffinityMeter['getState']> | null;
  best: { epoch: number; value: number; weights: Float32Array[]; train: SplitEvaluation; validation: SplitEvaluation | null } | null;
}

/** Thrown when `signal` aborts training (cancel, shutdown, time limit); `reason` is the signal's reason. */
export class TrainingStopped extends Error {
  constructor(readonly reason: unknown) {
    super(`training stopped: ${String(reason)}`);
    this.name = 'TrainingStopped';
  }
}

export interface TrainArgs {
  model: MultiTaskModel;
  prep: Preprocessing;
  train: EncodedSplit;
  validation: EncodedSplit | null;
  options: ResolvedSpec['training'];
  /** Static loss weight per task, in head order. */
  weights: number[];
  lossWeighting?: ResolvedLossWeighting;
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /** Continue from this checkpoint instead of epoch 0. */
  resume?: TrainerCheckpoint;
  /** Called after every `checkpointEvery` epochs (and after the last) with the state to save. */
  onCheckpoint?: (checkpoint: TrainerCheckpoint) => Promise<void>;
  checkpointEvery?: number;
  /** Checked before every step: when aborted, training stops within one step and throws TrainingStopped. */
  signal?: AbortSignal;
  /** The fused path where the backend has its kernels (blas; default true); false runs stock tfjs ops, to compare (MTL_FUSED). */
  fused?: boolean;
}

/** Training metrics are measured on at most this many training rows per epoch. */
export const TRAIN_METRIC_ROWS = 2048;
/** Task affinity is measured on at most this many steps per epoch (each costs one backward pass per task). */
export const AFFINITY_STEPS_PER_EPOCH = 8;

interface TrainTensors {
  x: tf.Tensor2D;
  labels: { values: tf.Tensor; mask: tf.Tensor1D }[];
}

interface Batch {
  x: tf.Tensor;
  labels: { values: tf.Tensor; mask: tf.Tensor }[];
}

/** A step's rows of the inputs and of every task's labels and mask: one kernel where the backend has it (blas), else a gather each. */
function gatherBatch(data: TrainTensors, ix: tf.Tensor1D): Batch {
  if (hasKernel(GATHER_ROWS_KERNEL)) {
    const inputs: tf.NamedTensorMap = { indices: ix, t0: data.x };
    data.labels.forEach((l, t) => {
      inputs[`t${2 * t + 1}`] = l.values;
      inputs[`t${2 * t + 2}`] = l.mask;
    });
    const [x, ...rest] = tf.engine().runKernel(GATHER_ROWS_KERNEL, inputs, {}) as tf.Tensor[];
    return { x, labels: data.labels.map((_, t) => ({ values: rest[2 * t], mask: rest[2 * t + 1] })) };
  }
  return { x: tf.gather(data.x, ix), labels: data.labels.map((l) => ({ values: tf.gather(l.values, ix), mask: tf.gather(l.mask, ix) })) };
}

/**
 * The multi-task training loop: per step, every head's masked loss, combined by the loss-weighting
 * strategy (weighted sum, learned uncertainty, DWA, GradNorm, or PCGrad's projected gradients),
 * one update of all trainable weights with Adam. Keeps the best epoch's weights by the monitored
 * value (early stopping). Measures task affinity on sampled steps.
 */
export async function trainMultiTask(args: TrainArgs): Promise<TrainResult> {
  const { model, prep, train, validation, options } = args;
  const heads = model.heads;
  const T = heads.length;
  const weighting = createLossWeighting({ config: args.lossWeighting ?? { strategy: 'static' }, weights: args.weights, types: heads.map((h) => h.type) });
  const optimizer = createAdam(options.learningRate);
  const modelVariables = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
  const allVariables = [...modelVariables, ...weighting.variables];
  const shared = model.sharedVariables;
  const affinity = options.affinity && T > 1 && shared.length > 0 ? new TaskAffinityMeter(heads.map((h) => h.name)) : null;
  const data: TrainTensors = tf.tidy(() => ({
    x: tf.tensor2d(train.x, [train.rows, prep.inputSize]),
    labels: train.labels.map((l, t) => ({
      values: heads[t].type === 'multilabel'
        ? tf.tensor2d(l.values as Float32Array, [train.rows, l.width])
        : tf.tensor1d(l.values, l.values instanceof Int32Array ? 'int32' : 'float32'),
      mask: tf.tensor1d(l.mask),
    })),
  }));
  const stepsPerEpoch = Math.ceil(train.rows / options.batchSize);
  const affinityEvery = Math.max(1, Math.floor(stepsPerEpoch / AFFINITY_STEPS_PER_EPOCH));
  const history: EpochReport[] = [];
  const taskLossHistory: number[][] = [];
  let best: { epoch: number; value: number; weights: tf.Tensor[] } | null = null;
  let bestEval: { train: SplitEvaluation; validation: SplitEvaluation | null } | null = null;
  let stoppedEarly = false;
  let trainingTimeMs = 0;
  let firstEpoch = 1;
  const patience = options.earlyStopping === false ? Infinity : options.earlyStopping.patience;
  const minDelta = options.earlyStopping === false ? 0 : options.earlyStopping.minDelta;

  const checkpointOf = async (epoch: number): Promise<TrainerCheckpoint> => ({
    epoch,
    history: [...history],
    taskLossHistory: taskLossHistory.map((r) => [...r]),
    trainingTimeMs,
    // copies: some backends (cpu, blas) hand out the tensor's own buffer, which training goes on updating
    weights: modelVariables.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
    optimizer: await optimizerState(optimizer),
    weighting: weighting.getState(),
    affinity: affinity?.getState() ?? null,
    best: best && bestEval ? { epoch: best.epoch, value: best.value, weights: best.weights.map((w) => Float32Array.from(w.dataSync() as Float32Array)), ...bestEval } : null,
  });

  // The fused path (blas backend): each Dense layer and each task's masked loss as one kernel. Same
  // values; MTL_FUSED=0 turns it off (to compare).
  const fused = args.fused ?? true;
  const ctx: StepContext = {
    model, optimizer, weighting, allVariables, shared, rng: createRng(options.seed), lossWeighting: args.lossWeighting ?? { strategy: 'static' }, learningRate: options.learningRate,
    forward: fused ? compileFusedForward(model.training) : null,
    fusedLoss: fused && hasKernel(MASKED_LOSS_KERNEL),
  };
  try {
    if (args.resume) {
      const r = args.resume;
      // Copies in: the cpu-based backends keep a typed array given to tf.tensor as the tensor's own
      // buffer, and training updates weights and Adam moments in place.
      tf.tidy(() => modelVariables.forEach((v, i) => v.assign(tf.tensor(r.weights[i].slice(), v.shape))));
      if (r.optimizer.length > 0) {
        const saved = r.optimizer.map((o) => ({ name: o.name, tensor: tf.tensor(o.values.slice(), o.shape, o.name === 'iter' ? 'int32' : 'float32') }));
        await optimizer.setWeights(saved);
        tf.dispose(saved.map((w) => w.tensor));
      }
      weighting.setState(r.weighting);
      if (affinity && r.affinity) affinity.setState(r.affinity);
      history.push(...r.history);
      taskLossHistory.push(...r.taskLossHistory);
      trainingTimeMs = r.trainingTimeMs;
      if (r.best) {
        best = { epoch: r.best.epoch, value: r.best.value, weights: r.best.weights.map((w, i) => tf.keep(tf.tensor(w.slice(), modelVariables[i].shape))) };
        bestEval = { train: r.best.train, validation: r.best.validation };
      }
      firstEpoch = r.epoch + 1;
      if (best && r.epoch - best.epoch >= patience) firstEpoch = options.epochs + 1; // it had already stopped early
    }
    for (let epoch = firstEpoch; epoch <= options.epochs; epoch++) {
      // A fresh generator per epoch, so a resumed run shuffles exactly as an uninterrupted one.
      const rng = createRng(options.seed * 7919 + epoch);
      ctx.rng = rng;
      weighting.startEpoch(taskLossHistory);
      const epochWeights = weighting.currentWeights();
      const started = performance.now();
      const order = shuffledIndices(train.rows, rng);
      let totals = tf.keep(tf.zeros([2 * T + 1]));
      let steps = 0;
      for (let start = 0; start < train.rows; start += options.batchSize) {
        if (args.signal?.aborted) {
          totals.dispose();
          throw new TrainingStopped(args.signal.reason);
        }
        const idx = order.subarray(start, Math.min(start + options.batchSize, train.rows));
        const measure = affinity !== null && steps % affinityEvery === 0;
        const stepStats = tf.tidy(() => trainStep(ctx, gatherBatch(data, tf.tensor1d(idx, 'int32')), measure ? affinity : null));
        const next = tf.keep(tf.add(totals, stepStats));
        tf.dispose([totals, stepStats]);
        totals = next;
        steps++;
      }
      const sums = totals.dataSync();
      totals.dispose();
      const durationMs = performance.now() - started;
      trainingTimeMs += durationMs;
      taskLossHistory.push(heads.map((_, t) => (sums[T + t] > 0 ? sums[t] / sums[T + t] : 0)));

      const staticWeights = args.weights;
      const trainEval = evaluateSplit(model, prep, staticWeights, train, TRAIN_METRIC_ROWS);
      const valEval = validation && validation.rows > 0 ? evaluateSplit(model, prep, staticWeights, validation) : null;
      const monitored = monitorValue(options.monitor, valEval ?? trainEval, prep, heads.map((h) => h.name));
      const report: EpochReport = {
        epoch,
        epochs: options.epochs,
        loss: sums[2 * T] / steps,
        valLoss: valEval ? valEval.loss : null,
        tasks: {},
        weights: Object.fromEntries(heads.map((h, t) => [h.name, epochWeights[t]])),
        monitored,
        samplesPerSec: (train.rows / durationMs) * 1000,
        durationMs,
      };
      heads.forEach((h, t) => {
        report.tasks[h.name] = {
          loss: sums[T + t] > 0 ? sums[t] / sums[T + t] : null,
          metric: trainEval.tasks[t].metrics.metric,
          valLoss: valEval ? valEval.tasks[t].loss : null,
          valMetric: valEval ? valEval.tasks[t].metrics.metric : null,
          metricName: trainEval.tasks[t].metrics.metricName,
        };
      });
      history.push(report);

      if (!best || monitored < best.value - minDelta) {
        if (best) tf.dispose(best.weights);
        best = { epoch, value: monitored, weights: modelVariables.map((v) => tf.keep(v.clone())) };
        bestEval = { train: trainEval, validation: valEval };
      }
      // Checkpoint before reporting: an epoch anyone has seen is an epoch a restart will not lose.
      const stopping = epoch - best.epoch >= patience;
      if (args.onCheckpoint && (epoch % (args.checkpointEvery ?? 1) === 0 || stopping || epoch === options.epochs)) {
        await args.onCheckpoint(await checkpointOf(epoch));
      }
      await args.onEpoch?.(report);
      if (stopping) {
        stoppedEarly = epoch < options.epochs;
        break;
      }
    }
    if (best) modelVariables.forEach((v, i) => v.assign(best!.weights[i]));
  } finally {
    if (best) tf.dispose(best.weights);
    tf.dispose([data.x, ...data.labels.flatMap((l) => [l.values, l.mask])]);
    optimizer.dispose();
    weighting.dispose();
  }

  const named = (e: SplitEvaluation) => Object.fromEntries(heads.map((h, t) => [h.name, e.tasks[t].metrics]));
  const epochsRun = history.length;
  return {
    history,
    bestEpoch: best?.epoch ?? 0,
    epochsRun,
    stoppedEarly: stoppedEarly || (!!best && history.length < options.epochs),
    trainingTimeMs,
    samplesPerSec: trainingTimeMs > 0 ? (train.rows * epochsRun * 1000) / trainingTimeMs : 0,
    validationMetrics: bestEval?.validation ? named(bestEval.validation) : null,
    trainMetrics: bestEval ? named(bestEval.train) : {},
    affinity: affinity?.result() ?? null,
  };
}

/** Adam's iteration count and moments as plain arrays (getWeights makes a fresh 'iter' tensor: disposed here). */
async function optimizerState(optimizer: tf.Optimizer): Promise<TrainerCheckpoint['optimizer']> {
  const weights = await optimizer.getWeights();
  const state = await Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape, values: Float32Array.from(await w.tensor.data()) })));
  weights.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  return state;
}

/**
 * What model selection minimises: the weighted loss; minus the mean task score (metric when higher
 * is better, 1 − rmse/σ for regression); or one task's metric (negated when higher is better).
 */
export function monitorValue(monitor: Monitor, ev: SplitEvaluation, prep: Preprocessing, tasks: string[]): number {
  if (monitor === 'loss') return ev.loss;
  const score = (t: number): number | null => {
    const m = ev.tasks[t].metrics;
    if (m.metric === null) return null;
    if (higherIsBetter(m.metricName)) return m.metric;
    const enc = prep.tasks[t];
    return 1 - m.metric / (enc.type === 'regression' ? enc.std : 1);
  };
  if (monitor === 'mean') {
    const scores = tasks.map((_, t) => score(t)).filter((s): s is number => s !== null);
    return scores.length > 0 ? -scores.reduce((a, b) => a + b, 0) / scores.length : Infinity;
  }
  const t = tasks.indexOf(monitor.task);
  const s = t >= 0 ? score(t) : null;
  return s === null ? Infinity : -s;
}

interface StepContext {
  model: MultiTaskModel;
  optimizer: tf.Optimizer;
  weighting: LossWeighting;
  allVariables: tf.Variable[];
  shared: tf.Variable[];
  rng: () => number;
  lossWeighting: ResolvedLossWeighting;
  learningRate: number;
  /** The model's logits through fused Dense kernels, when the backend has them and the model is all Dense. */
  forward: FusedForward | null;
  /** Each task's masked loss as one kernel (fusedMaskedLoss). */
  fusedLoss: boolean;
}

/** Each task's masked mean loss and the parts behind it, from one forward pass. */
function taskLosses(ctx: StepContext, batch: Batch) {
  const { model } = ctx;
  const logits = ctx.forward ? ctx.forward(batch.x) : asList(model.training.apply(batch.x, { training: true }) as tf.Tensor | tf.Tensor[]);
  if (ctx.fusedLoss) {
    const parts = model.heads.map((h, t) => fusedMaskedLoss(h.type, logits[t], batch.labels[t].values, batch.labels[t].mask, h.width));
    return { parts, means: parts.map((p) => p.mean) };
  }
  const parts = model.heads.map((h, t) => maskedLossParts(h.type, logits[t], batch.labels[t].values, batch.labels[t].mask, h.width));
  return { parts, means: parts.map((p) => maskedMean(p.sum, p.count)) };
}

/** Each task's (unweighted) loss gradient on the shared variables, flattened: one backward pass per task. */
function sharedGradients(ctx: StepContext, batch: Batch): { flat: tf.Tensor1D[]; losses: number[] } {
  const losses: number[] = [];
  const flat = ctx.model.heads.map((_, t) => {
    const { value, grads } = tf.variableGrads(() => taskLosses(ctx, batch).means[t], ctx.shared);
    losses.push(value.dataSync()[0]);
    return tf.concat(ctx.shared.map((v) => (grads[v.name] ?? tf.zerosLike(v)).reshape([-1]))) as tf.Tensor1D;
  });
  return { flat, losses };
}

/**
 * One optimisation step. Returns [loss sums per task, label counts per task, weighted loss] so the
 * epoch's numbers are read from the device once per epoch, not once per step.
 */
function trainStep(ctx: StepContext, batch: Batch, affinity: TaskAffinityMeter | null): tf.Tensor1D {
  const { model, weighting } = ctx;
  const perTask = affinity || weighting.mode !== 'sum' ? sharedGradients(ctx, batch) : null;
  if (perTask && affinity) affinity.add(perTask.flat);
  if (perTask && weighting instanceof GradNormWeights && ctx.lossWeighting.strategy === 'gradnorm') {
    const norms = tf.tidy(() => perTask.flat.map((g) => tf.norm(g).dataSync()[0]));
    weighting.update(perTask.losses, norms, ctx.lossWeighting.alpha, ctx.learningRate);
  }
  let stats: tf.Tensor1D | null = null;
  const { grads } = tf.variableGrads(() => {
    const { parts, means } = taskLosses(ctx, batch);
    let total = weighting.combine(means);
    stats = tf.keep(tf.stack([...parts.map((p) => p.sum), ...parts.map((p) => p.count), total]) as tf.Tensor1D);
    if (model.regularization) total = tf.add(total, model.regularization());
    return total;
  }, ctx.allVariables);
  if (perTask && weighting.mode === 'pcgrad') replaceSharedGradients(ctx, grads, perTask.flat);
  ctx.optimizer.applyGradients(grads);
  return stats!;
}

/**
 * PCGrad on the shared variables: their gradient Σ w_t g_t (+ regularisation) becomes
 * Σ w_t g'_t (+ regularisation), where g'_t are the projected task gradients.
 */
function replaceSharedGradients(ctx: StepContext, grads: tf.NamedTensorMap, flat: tf.Tensor1D[]): void {
  const w = ctx.weighting.currentWeights();
  const weighted = flat.map((g, t) => tf.mul(g, w[t]) as tf.Tensor1D);
  const delta = tf.sub(projectConflictingGradients(weighted, ctx.rng), tf.addN(weighted));
  let offset = 0;
  for (const v of ctx.shared) {
    const size = v.size;
    const part = delta.slice(offset, size).reshape(v.shape);
    offset += size;
    grads[v.name] = grads[v.name] ? tf.add(grads[v.name], part) : part;
  }
}
