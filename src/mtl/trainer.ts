import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from './preprocessing.js';
import { headsReachingShared, type MultiTaskModel } from './model-builder.js';
import { evaluateSplit, type EncodedSplit, type SplitEvaluation } from './evaluation.js';
import { higherIsBetter, type MetricName, type TaskMetrics } from './metrics.js';
import type { Monitor, ResolvedLossWeighting, ResolvedSpec } from './spec.js';
import { createRng, shuffledIndices } from './rng.js';
import { createLossWeighting, type LossWeighting, type LossWeightingState } from './loss-weighting/index.js';
import { TaskAffinityMeter, type EpochAffinity, type TaskAffinity } from './task-affinity.js';
import { createAdam } from './fused-adam.js';
import { dropoutLayersOf, setDropoutStep, type SeededDropout } from './layers/seeded-dropout.js';
import { compileFusedForward } from './fused-forward.js';
import { hasKernel, MASKED_LOSS_KERNEL } from './blas/index.js';
import { gatherBatch, trainStep, type StepContext, type TrainTensors } from './training-step.js';

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
  /** Loss weight of each task in this epoch (as the loss-weighting strategy set it; the mean over the epoch's steps for strategies that set them every step). */
  weights: Record<string, number>;
  /** The value model selection watches (lower is better); see `training.monitor`. */
  monitored: number;
  /** Task affinity measured in this epoch (mean gradient cosine of each pair on the shared weights), when it was measured. */
  affinity?: EpochAffinity | null;
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
  /** keepBestHeads: each head's best value so far and its weights then (absent in older checkpoints). */
  headBest?: { task: string; epoch: number; value: number; weights: Float32Array[] }[];
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
  lossWeighting: ResolvedLossWeighting;
  /** The fused path on the blas backend (each Dense layer and each task's masked loss as one kernel; same values). Default true; false (MTL_FUSED=0) runs the stock ops, to compare. */
  fused?: boolean;
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /** Continue from this checkpoint instead of epoch 0. */
  resume?: TrainerCheckpoint;
  /** Called after every `checkpointEvery` epochs (and after the last) with the state to save. */
  onCheckpoint?: (checkpoint: TrainerCheckpoint) => Promise<void>;
  checkpointEvery?: number;
  /** Checked before every step: when aborted, training stops within one step and throws TrainingStopped. */
  signal?: AbortSignal;
  /**
   * Heads whose `<task>_logits` layer reads the input and nothing else reads (linear heads): each
   * ends with the weights of its own best epoch by its task's validation metric, the starting
   * weights (epoch 0, e.g. a linear reference) included. Their weights reach no other task's output,
   * so this changes no other task; a warm-started linear head thus never ends worse than its start.
   */
  keepBestHeads?: string[];
}

/** Training metrics are measured on at most this many training rows per epoch. */
export const TRAIN_METRIC_ROWS = 2048;
/** How often (ms) an epoch lets other events run, e.g. a cancel: about one step's delay at most, 1/1000 of the time. */
const YIELD_EVERY_MS = 20;
/** Each epoch's affinity matrix goes into the history (job progress, model) for at most this many tasks (T² numbers an epoch). */
export const AFFINITY_HISTORY_MAX_TASKS = 32;
/** Task affinity is measured on at most this many steps per epoch (each costs one backward pass per task). */
export const AFFINITY_STEPS_PER_EPOCH = 8;

/**
 * The multi-task training loop: per step, every head's masked loss, combined by the loss-weighting
 * strategy (see loss-weighting/), one update of all trainable weights with Adam. Keeps the best
 * epoch's weights by the monitored value (early stopping). Measures task affinity on sampled steps.
 */
export async function trainMultiTask(args: TrainArgs): Promise<TrainResult> {
  const { options } = args;
  const run = new TrainingRun(args);
  try {
    if (args.resume) await run.restore(args.resume);
    else run.startHeads();
    for (let epoch = run.firstEpoch; epoch <= options.epochs; epoch++) {
      const report = run.report(await run.runEpoch(epoch, args.signal));
      const stopping = run.keepBest(report);
      // Checkpoint before reporting: an epoch anyone has seen is an epoch a restart will not lose.
      if (args.onCheckpoint && (epoch % (args.checkpointEvery ?? 1) === 0 || stopping || epoch === options.epochs)) {
        await args.onCheckpoint(await run.checkpoint(epoch));
      }
      await args.onEpoch?.(report);
      if (stopping) {
        run.stoppedEarly = epoch < options.epochs;
        break;
      }
    }
    run.keepBestWeights();
  } finally {
    run.dispose();
  }
  return run.result();
}

/** One epoch's raw outcome, before evaluation. */
interface EpochRun {
  epoch: number;
  /** [loss sums per task, label counts per task, weighted loss sum] over the epoch's steps. */
  sums: Float32Array | Int32Array | Uint8Array;
  steps: number;
  /** The loss weights the strategy set for this epoch (their mean over its steps where they change every step). */
  weights: number[];
  durationMs: number;
}

interface BestEpoch {
  epoch: number;
  value: number;
  weights: tf.Tensor[];
  train: SplitEvaluation;
  validation: SplitEvaluation | null;
}

/** The state of one call of trainMultiTask: tensors, strategy, history and the best epoch so far. */
class TrainingRun {
  readonly history: EpochReport[] = [];
  readonly taskLossHistory: number[][] = [];
  firstEpoch = 1;
  stoppedEarly = false;
  private trainingTimeMs = 0;
  private best: BestEpoch | null = null;
  /** The evaluation of the epoch just reported, until keepBest looks at it. */
  private latest: { train: SplitEvaluation; validation: SplitEvaluation | null } | null = null;
  private readonly weighting: LossWeighting;
  private readonly optimizer: tf.Optimizer;
  private readonly modelVariables: tf.Variable[];
  private readonly affinity: TaskAffinityMeter | null;
  private readonly data: TrainTensors;
  private readonly ctx: StepContext;
  private readonly affinityEvery: number;
  /** The model's dropout layers, told each step's number so their masks repeat with the seed. */
  private readonly dropout: SeededDropout[];
  /** keepBestHeads: per head, its variables and its best epoch so far by its own validation metric. */
  private readonly heads: { task: string; t: number; variables: tf.Variable[]; best: { epoch: number; value: number; weights: tf.Tensor[] } | null }[];
  private readonly patience: number;
  private readonly minDelta: number;

  constructor(private readonly args: TrainArgs) {
    const { model, prep, train, options } = args;
    const heads = model.heads;
    this.weighting = createLossWeighting(args.lossWeighting, { weights: args.weights, types: heads.map((h) => h.type), learningRate: options.learningRate });
    this.modelVariables = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
    this.optimizer = createAdam(options.learningRate, options.weightDecay ?? 0, denseKernels(model.training));
    this.dropout = dropoutLayersOf(model.training);
    this.heads = (args.keepBestHeads ?? []).map((task) => ({
      task,
      t: heads.findIndex((h) => h.name === task),
      variables: model.training.getLayer(`${task}_logits`).trainableWeights.map((w) => w.read() as tf.Variable),
      best: null,
    }));
    const shared = model.sharedVariables;
    this.affinity = options.affinity && heads.length > 1 && shared.length > 0 ? new TaskAffinityMeter(heads.map((h) => h.name)) : null;
    this.data = tf.tidy(() => ({
      x: tf.tensor2d(train.x, [train.rows, prep.inputSize]),
      labels: train.labels.map((l, t) => ({
        values: heads[t].type === 'multilabel'
          ? tf.tensor2d(l.values as Float32Array, [train.rows, l.width])
          : tf.tensor1d(l.values, l.values instanceof Int32Array ? 'int32' : 'float32'),
        mask: tf.tensor1d(l.mask),
      })),
    }));
    this.affinityEvery = Math.max(1, Math.floor(Math.ceil(train.rows / options.batchSize) / AFFINITY_STEPS_PER_EPOCH));
    this.patience = options.earlyStopping === false ? Infinity : options.earlyStopping.patience;
    this.minDelta = options.earlyStopping === false ? 0 : options.earlyStopping.minDelta;
    const fused = args.fused ?? true;
    this.ctx = {
      model, optimizer: this.optimizer, weighting: this.weighting, allVariables: [...this.modelVariables, ...this.weighting.variables], shared, rng: createRng(options.seed),
      forward: fused ? compileFusedForward(model.training) : null,
      fusedLoss: fused && hasKernel(MASKED_LOSS_KERNEL),
      reachesShared: headsReachingShared(model, shared),
    };
  }

  /** Continues after a checkpoint's epoch: weights, Adam's moments, the strategy, affinity, history and best epoch. */
  async restore(r: TrainerCheckpoint): Promise<void> {
    // Copies in: the cpu-based backends keep a typed array given to tf.tensor as the tensor's own
    // buffer, and training updates weights and Adam moments in place.
    tf.tidy(() => this.modelVariables.forEach((v, i) => v.assign(tf.tensor(r.weights[i].slice(), v.shape))));
    if (r.optimizer.length > 0) await restoreOptimizer(this.optimizer, r.optimizer);
    this.weighting.setState(r.weighting);
    if (this.affinity && r.affinity) this.affinity.setState(r.affinity);
    this.history.push(...r.history);
    this.taskLossHistory.push(...r.taskLossHistory);
    this.trainingTimeMs = r.trainingTimeMs;
    if (r.best) {
      const weights = r.best.weights.map((w, i) => tf.keep(tf.tensor(w.slice(), this.modelVariables[i].shape)));
      this.best = { epoch: r.best.epoch, value: r.best.value, weights, train: r.best.train, validation: r.best.validation };
    }
    for (const saved of r.headBest ?? []) {
      const head = this.heads.find((h) => h.task === saved.task);
      if (head) head.best = { epoch: saved.epoch, value: saved.value, weights: saved.weights.map((w, i) => tf.keep(tf.tensor(w.slice(), head.variables[i].shape))) };
    }
    this.firstEpoch = r.epoch + 1;
    if (this.best && r.epoch - this.best.epoch >= this.patience) this.firstEpoch = this.args.options.epochs + 1; // it had already stopped early
  }

  /**
   * One pass over the shuffled training rows; throws TrainingStopped when `signal` aborts. Yields to
   * the event loop every YIELD_EVERY_MS, so a cancel or shutdown that arrives as an event (an IPC
   * message in the worker's training child) aborts the signal mid-epoch, and training stops within a step.
   */
  async runEpoch(epoch: number, signal: AbortSignal | undefined): Promise<EpochRun> {
    const { options, train } = this.args;
    const T = this.args.model.heads.length;
    // A fresh generator per epoch, so a resumed run shuffles exactly as an uninterrupted one.
    const rng = createRng(options.seed * 7919 + epoch);
    this.ctx.rng = rng;
    this.weighting.startEpoch(this.taskLossHistory);
    this.affinity?.startEpoch();
    const startWeights = this.weighting.currentWeights();
    const started = performance.now();
    const order = shuffledIndices(train.rows, rng);
    let totals = tf.keep(tf.zeros([2 * T + 1]));
    let steps = 0;
    let yielded = started;
    for (let start = 0; start < train.rows; start += options.batchSize) {
      if (performance.now() - yielded >= YIELD_EVERY_MS) {
        await yieldToEventLoop();
        yielded = performance.now();
      }
      if (signal?.aborted) {
        totals.dispose();
        throw new TrainingStopped(signal.reason);
      }
      const idx = order.subarray(start, Math.min(start + options.batchSize, train.rows));
      const measure = this.affinity !== null && steps % this.affinityEvery === 0;
      setDropoutStep(this.dropout, epoch, steps);
      const stepStats = tf.tidy(() => trainStep(this.ctx, gatherBatch(this.data, tf.tensor1d(idx, 'int32')), measure ? this.affinity : null));
      const next = tf.keep(tf.add(totals, stepStats));
      tf.dispose([totals, stepStats]);
      totals = next;
      steps++;
    }
    const sums = await totals.data(); // async: a GPU backend (webgpu) reads without blocking
    totals.dispose();
    // Strategies that set weights every step report the epoch's mean; the others the weights it started with.
    const weights = this.weighting.epochWeights?.() ?? startWeights;
    const durationMs = performance.now() - started;
    this.trainingTimeMs += durationMs;
    this.taskLossHistory.push(this.args.model.heads.map((_, t) => (sums[T + t] > 0 ? sums[t] / sums[T + t] : 0)));
    return { epoch, sums, steps, weights, durationMs };
  }

  /** Evaluates the epoch on both splits and adds its report to the history. */
  report({ epoch, sums, steps, weights, durationMs }: EpochRun): EpochReport {
    const { model, prep, train, validation, options } = this.args;
    const heads = model.heads;
    const T = heads.length;
    const trainEval = evaluateSplit(model, prep, this.args.weights, train, TRAIN_METRIC_ROWS);
    const valEval = validation && validation.rows > 0 ? evaluateSplit(model, prep, this.args.weights, validation) : null;
    this.latest = { train: trainEval, validation: valEval };
    const report: EpochReport = {
      epoch,
      epochs: options.epochs,
      loss: sums[2 * T] / steps,
      valLoss: valEval ? valEval.loss : null,
      tasks: {},
      weights: Object.fromEntries(heads.map((h, t) => [h.name, weights[t]])),
      monitored: monitorValue(options.monitor, valEval ?? trainEval, prep, heads.map((h) => h.name)),
      samplesPerSec: (train.rows / durationMs) * 1000,
      durationMs,
    };
    if (this.affinity && T <= AFFINITY_HISTORY_MAX_TASKS) report.affinity = this.affinity.epochAffinity();
    heads.forEach((h, t) => {
      report.tasks[h.name] = {
        loss: sums[T + t] > 0 ? sums[t] / sums[T + t] : null,
        metric: trainEval.tasks[t].metrics.metric,
        valLoss: valEval ? valEval.tasks[t].loss : null,
        valMetric: valEval ? valEval.tasks[t].metrics.metric : null,
        metricName: trainEval.tasks[t].metrics.metricName,
      };
    });
    this.history.push(report);
    return report;
  }

  /** keepBestHeads: the starting weights (epoch 0) are each head's first candidate. */
  startHeads(): void {
    if (this.heads.length === 0) return;
    const { model, prep, train, validation } = this.args;
    const ev = validation && validation.rows > 0 ? evaluateSplit(model, prep, this.args.weights, validation) : evaluateSplit(model, prep, this.args.weights, train, TRAIN_METRIC_ROWS);
    this.keepBestHeads(0, ev);
  }

  /** Each kept head's weights when this epoch's evaluation is its best so far (lower monitored value of its task). */
  private keepBestHeads(epoch: number, ev: SplitEvaluation): void {
    const names = this.args.model.heads.map((h) => h.name);
    for (const head of this.heads) {
      const value = monitorValue({ task: head.task }, ev, this.args.prep, names);
      if (head.best && !(value < head.best.value)) continue;
      if (head.best) tf.dispose(head.best.weights);
      head.best = { epoch, value, weights: head.variables.map((v) => tf.keep(v.clone())) };
    }
  }

  /** Keeps the weights of the reported epoch when it is the best so far; says whether early stopping ends training. */
  keepBest(report: EpochReport): boolean {
    const { epoch, monitored } = report;
    if (this.heads.length > 0) this.keepBestHeads(epoch, this.latest!.validation ?? this.latest!.train);
    if (!this.best || monitored < this.best.value - this.minDelta) {
      if (this.best) tf.dispose(this.best.weights);
      this.best = { epoch, value: monitored, weights: this.modelVariables.map((v) => tf.keep(v.clone())), ...this.latest! };
    }
    return epoch - this.best.epoch >= this.patience;
  }

  /** The model ends training with its best epoch's weights, and each kept head with its own best epoch's (then re-evaluated). */
  keepBestWeights(): void {
    if (this.best) this.modelVariables.forEach((v, i) => v.assign(this.best!.weights[i]));
    const moved = this.heads.filter((h) => h.best && h.best.epoch !== this.best?.epoch);
    for (const head of moved) head.variables.forEach((v, i) => v.assign(head.best!.weights[i]));
    if (moved.length > 0 && this.best) {
      const { model, prep, train, validation } = this.args;
      this.best.train = evaluateSplit(model, prep, this.args.weights, train, TRAIN_METRIC_ROWS);
      this.best.validation = validation && validation.rows > 0 ? evaluateSplit(model, prep, this.args.weights, validation) : null;
    }
  }

  async checkpoint(epoch: number): Promise<TrainerCheckpoint> {
    const best = this.best;
    return {
      epoch,
      history: [...this.history],
      taskLossHistory: this.taskLossHistory.map((r) => [...r]),
      trainingTimeMs: this.trainingTimeMs,
      // copies: some backends (cpu, blas) hand out the tensor's own buffer, which training goes on updating
      weights: await Promise.all(this.modelVariables.map(async (v) => Float32Array.from((await v.data()) as Float32Array))),
      optimizer: await optimizerState(this.optimizer),
      weighting: this.weighting.getState(),
      affinity: this.affinity?.getState() ?? null,
      best: best ? { epoch: best.epoch, value: best.value, weights: await Promise.all(best.weights.map(async (w) => Float32Array.from((await w.data()) as Float32Array))), train: best.train, validation: best.validation } : null,
      ...(this.heads.length > 0
        ? {
            headBest: await Promise.all(
              this.heads
                .filter((h) => h.best)
                .map(async (h) => ({ task: h.task, epoch: h.best!.epoch, value: h.best!.value, weights: await Promise.all(h.best!.weights.map(async (w) => Float32Array.from((await w.data()) as Float32Array))) })),
            ),
          }
        : {}),
    };
  }

  result(): TrainResult {
    const heads = this.args.model.heads;
    const { train, options } = this.args;
    const named = (e: SplitEvaluation) => Object.fromEntries(heads.map((h, t) => [h.name, e.tasks[t].metrics]));
    const epochsRun = this.history.length;
    const best = this.best;
    return {
      history: this.history,
      bestEpoch: best?.epoch ?? 0,
      epochsRun,
      stoppedEarly: this.stoppedEarly || (!!best && epochsRun < options.epochs),
      trainingTimeMs: this.trainingTimeMs,
      samplesPerSec: this.trainingTimeMs > 0 ? (train.rows * epochsRun * 1000) / this.trainingTimeMs : 0,
      validationMetrics: best?.validation ? named(best.validation) : null,
      trainMetrics: best ? named(best.train) : {},
      affinity: this.affinityResult(),
    };
  }

  /** The affinity averaged over training, with each epoch's matrix from the history. */
  private affinityResult(): TaskAffinity | null {
    const affinity = this.affinity?.result() ?? null;
    if (!affinity) return null;
    const tasks = affinity.tasks;
    affinity.perEpoch = this.history.flatMap((h) => (h.affinity ? [{ epoch: h.epoch, matrix: tasks.map((a) => tasks.map((b) => h.affinity![a]?.[b] ?? 0)) }] : []));
    return affinity;
  }

  dispose(): void {
    if (this.best) tf.dispose(this.best.weights);
    for (const h of this.heads) if (h.best) tf.dispose(h.best.weights);
    tf.dispose([this.data.x, ...this.data.labels.flatMap((l) => [l.values, l.mask])]);
    this.optimizer.dispose();
    this.weighting.dispose();
  }
}

/** Adam's private β powers βᵗ, accumulated step by step as float32 products. */
interface AdamPowers {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/** Names under which the β powers ride along with getWeights()'s iteration count and moments in a checkpoint. */
const ADAM_POWERS = ['accBeta1', 'accBeta2'] as const;

/**
 * Adam's iteration count, moments and β powers as plain arrays (getWeights makes a fresh 'iter'
 * tensor: disposed here). The powers are saved as they are because setWeights recomputes them as
 * β^(t+1), which differs in float32 from the accumulated product after a few dozen steps, and a
 * resumed run would then drift from the uninterrupted one.
 */
async function optimizerState(optimizer: tf.Optimizer): Promise<TrainerCheckpoint['optimizer']> {
  const weights = await optimizer.getWeights();
  const state = await Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape, values: Float32Array.from(await w.tensor.data()) })));
  weights.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  const powers = optimizer as unknown as Partial<AdamPowers>;
  for (const name of ADAM_POWERS) {
    const power = powers[name];
    if (power) state.push({ name, shape: [], values: Float32Array.from((await power.data()) as Float32Array) });
  }
  return state;
}

/** Puts a checkpoint's optimizer state back; the β powers as saved where the checkpoint has them (older ones do not). */
async function restoreOptimizer(optimizer: tf.Optimizer, state: TrainerCheckpoint['optimizer']): Promise<void> {
  const isPower = (name: string) => (ADAM_POWERS as readonly string[]).includes(name);
  const saved = state.filter((o) => !isPower(o.name)).map((o) => ({ name: o.name, tensor: tf.tensor(o.values.slice(), o.shape, o.name === 'iter' ? 'int32' : 'float32') }));
  await optimizer.setWeights(saved);
  tf.dispose(saved.map((w) => w.tensor));
  const powers = optimizer as unknown as Partial<AdamPowers>;
  for (const o of state.filter((s) => isPower(s.name))) tf.tidy(() => powers[o.name as keyof AdamPowers]?.assign(tf.scalar(o.values[0])));
}

/** The names of the kernels of a model's Dense layers: what weight decay shrinks (not biases, gates' selectors, cross-stitch α, attention). */
export function denseKernels(model: tf.LayersModel): string[] {
  return model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => (l.trainableWeights[0].read() as tf.Variable).name);
}

/** Lets pending events run (setImmediate in Node: no timer delay; a zero timeout elsewhere). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
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
