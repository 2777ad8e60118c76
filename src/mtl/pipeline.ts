import { headWidth, type Preprocessing } from './preprocessing.js';
import { encodeDataset } from './dataset-encoding.js';
import { asRowSource, type RowSource } from './row-source.js';
import * as tf from '@tensorflow/tfjs';
import { buildModel, linearHeads, type HeadSpec, type MultiTaskModel } from './model-builder.js';
import { fitLinearReferences, type LinearReference } from './linear-reference.js';
import { compareWithBaselines, type BaselineReport, type LinearBaseline } from './baselines.js';
import type { TaskMetrics } from './metrics.js';
import { trainMultiTask, TrainingStopped, type EpochReport, type TrainerCheckpoint, type TrainResult } from './trainer.js';
import { cascadeOf, type ResolvedSpec } from './spec.js';
import type { Row } from './values.js';

export interface TrainedModel {
  model: MultiTaskModel;
  preprocessing: Preprocessing;
  result: TrainResult;
  /** Single-task baselines and Δm, when `training.baselines` asked for them. */
  baselines: BaselineReport | null;
  rows: { train: number; validation: number };
  /** Things a user should know about their data, e.g. a task with very few labels. */
  warnings: string[];
}

export interface TrainOnRowsHooks {
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  onLog?: (message: string, details?: object) => void;
  /** Checkpointing and resuming (see trainMultiTask). */
  resume?: TrainerCheckpoint;
  onCheckpoint?: (checkpoint: TrainerCheckpoint) => Promise<void>;
  checkpointEvery?: number;
  /** Aborting stops training within one step (TrainingStopped). */
  signal?: AbortSignal;
  /** The trainer's fused path (default true; see TrainArgs.fused), for the model and its baselines. */
  fused?: boolean;
}

const FEW_LABELS = 20;

/**
 * The whole engine on a dataset's rows (in memory, or a source that streams them from the store):
 * seeded train/validation split, preprocessing fitted on the training rows only, the spec's
 * multi-task model, and the masked multi-task loop. The caller owns the returned model and must
 * dispose it.
 */
export async function trainOnRows(spec: ResolvedSpec, input: Row[] | RowSource, hooks: TrainOnRowsHooks = {}): Promise<TrainedModel> {
  const rows = asRowSource(input);
  const { preprocessing, train, validation } = await encodeDataset(spec, rows);
  const warnings: string[] = [];
  train.labels.forEach((l) => {
    const labelled = l.mask.reduce((a, b) => a + b, 0);
    if (labelled < FEW_LABELS) warnings.push(`task '${l.task}' has only ${labelled} labelled training rows`);
  });
  hooks.onLog?.('preprocessing fitted', {
    trainRows: train.rows,
    validationRows: validation?.rows ?? 0,
    inputSize: preprocessing.inputSize,
    labelledRows: Object.fromEntries(train.labels.map((l) => [l.task, l.mask.reduce((a, b) => a + b, 0)])),
  });
  for (const w of warnings) hooks.onLog?.(w);

  const heads: HeadSpec[] = preprocessing.tasks.map((enc, t) => {
    const cascade = cascadeOf(spec.tasks[t]);
    return { name: enc.task, type: spec.tasks[t].type, width: headWidth(enc), ...(cascade ? { cascade } : {}) };
  });
  const model = buildModel({ inputSize: preprocessing.inputSize, architecture: spec.architecture, heads, seed: spec.training.seed });
  try {
    // Linear references: every task's for the baselines report, the linear heads' for their warm start.
    const warm = spec.training.linearWarmStart ? linearHeads(model) : [];
    const references = spec.training.baselines || warm.length > 0 ? fitLinearReferences(preprocessing, train, validation, spec.training.baselines ? undefined : new Set(warm)) : {};
    if (Object.keys(references).length > 0)
      hooks.onLog?.('linear references', Object.fromEntries(Object.entries(references).map(([task, r]) => [task, { [r.metricName]: r.value, lambda: r.lambda }])));
    for (const task of warm) warmStart(model, task, references[task]);
    const result = await trainMultiTask({
      model,
      prep: preprocessing,
      train,
      validation,
      options: spec.training,
      weights: spec.tasks.map((t) => t.weight),
      lossWeighting: spec.lossWeighting,
      onEpoch: hooks.onEpoch,
      resume: hooks.resume,
      onCheckpoint: hooks.onCheckpoint,
      checkpointEvery: hooks.checkpointEvery,
      signal: hooks.signal,
      fused: hooks.fused,
      keepBestHeads: warm,
    });
    const linear = Object.fromEntries(Object.entries(references).map(([task, r]): [string, LinearBaseline] => [task, { metric: r.metricName, value: r.value, lambda: r.lambda }]));
    const baselines = spec.training.baselines ? await trainBaselines(spec, rows, result, linear, { onLog: hooks.onLog, signal: hooks.signal, fused: hooks.fused }) : null;
    return { model, preprocessing, result, baselines, rows: { train: train.rows, validation: validation?.rows ?? 0 }, warnings };
  } catch (err) {
    disposeModel(model);
    throw err;
  }
}

/**
 * One single-task model per task: the same architecture, split, seed and epoch budget, the task's
 * own loss only. Their metrics against the multi-task model's give the MTL gain Δm.
 */
async function trainBaselines(spec: ResolvedSpec, rows: RowSource, mtl: TrainResult, linear: Record<string, LinearBaseline>, hooks: TrainOnRowsHooks): Promise<BaselineReport> {
  const stl: Record<string, TaskMetrics> = {};
  for (const task of spec.tasks) {
    if (hooks.signal?.aborted) throw new TrainingStopped(hooks.signal.reason);
    hooks.onLog?.(`training single-task baseline for '${task.name}'`);
    // A cascaded task alone has no parent: its head learns its label (the joint event) directly.
    const { dependsOn: _parent, mode: _mode, calibration: _calibration, ...own } = task;
    const single: ResolvedSpec = {
      ...spec,
      tasks: [{ ...own, weight: 1 }],
      lossWeighting: { strategy: 'static' },
      training: { ...spec.training, baselines: false, affinity: false, monitor: typeof spec.training.monitor === 'object' ? { task: task.name } : spec.training.monitor },
    };
    const trained = await trainOnRows(single, rows, { signal: hooks.signal, fused: hooks.fused });
    stl[task.name] = (trained.result.validationMetrics ?? trained.result.trainMetrics)[task.name];
    disposeModel(trained.model);
  }
  return compareWithBaselines(mtl.validationMetrics ?? mtl.trainMetrics, stl, linear);
}

/** A linear head starts as its task's linear reference: the reference's weights and bias are its `<task>_logits` kernel and bias. */
function warmStart(model: MultiTaskModel, task: string, reference: LinearReference): void {
  const layer = model.serving.getLayer(`${task}_logits`);
  const [kernel, bias] = layer.getWeights();
  const values = tf.tidy(() => [tf.tensor(reference.weights.slice(), kernel.shape), tf.tensor(reference.bias.slice(), bias.shape)]);
  layer.setWeights(values);
  tf.dispose(values);
}

export function disposeModel(model: { training: tf.LayersModel; serving: tf.LayersModel }): void {
  model.serving.dispose();
}
