import type { Preprocessing } from '../mtl/preprocessing.js';
import type { TrainedModel } from '../mtl/pipeline.js';
import type { CascadeMode, ResolvedSpec, TaskType } from '../mtl/spec.js';
import type { TaskMetrics } from '../mtl/metrics.js';
import type { Scalar } from '../mtl/values.js';
import type { TaskAffinity } from '../mtl/task-affinity.js';
import type { BaselineReport } from '../mtl/baselines.js';

/** What the store keeps beside a model's weights, and what `GET /v1/models/:id` shows. */
export interface ModelMetadata {
  id: string;
  name: string;
  /** 1, 2, 3, … among the models saved under the same name; assigned by ModelStore.save (absent before it). */
  version?: number;
  /** Set on a model imported from an archive: what it was where it was exported. */
  importedFrom?: { id: string; name: string; version?: number; importedAt: string };
  createdAt: string;
  jobId: string;
  datasetId: string;
  /** The cascade fields (dependsOn, mode, calibration) only on cascaded tasks. */
  tasks: { name: string; column: string; type: TaskType; weight: number; labels?: Scalar[]; dependsOn?: string; mode?: CascadeMode; calibration?: number }[];
  features: ResolvedSpec['features'];
  architecture: ResolvedSpec['architecture'];
  lossWeighting: ResolvedSpec['lossWeighting'];
  training: ResolvedSpec['training'];
  /** Validation metrics per task at the kept (best) epoch; training-sample metrics when there was no validation split. */
  metrics: Record<string, TaskMetrics>;
  /** The epoch whose weights were kept (best value of `training.monitor`). */
  bestEpoch: number;
  /** Loss weights of each task at the kept epoch. */
  finalWeights: Record<string, number>;
  /** Mean cosine of per-task gradients on the shared weights, with a suggested task grouping; null when not measured. */
  affinity: TaskAffinity | null;
  /** Single-task baselines and the MTL gain Δm, when `training.baselines` was set. */
  baselines: BaselineReport | null;
  epochsRun: number;
  rows: { train: number; validation: number };
  trainingTimeMs: number;
  samplesPerSec: number;
  backend: string;
  /** The GPU it trained on (webgpu backend), as "vendor architecture (description)". */
  backendAdapter?: string;
  preprocessing: Preprocessing;
  warnings: string[];
}

/** The metadata of a freshly trained model, as the worker saves it beside the weights. */
export function modelMetadataOf(args: { id: string; jobId: string; spec: ResolvedSpec; trained: TrainedModel; backend: string; backendAdapter?: string }): ModelMetadata {
  const { spec, trained } = args;
  const { result, preprocessing } = trained;
  return {
    id: args.id,
    name: spec.name,
    createdAt: new Date().toISOString(),
    jobId: args.jobId,
    datasetId: spec.datasetId,
    tasks: spec.tasks.map((t, i) => {
      const enc = preprocessing.tasks[i];
      const cascade = t.dependsOn !== undefined ? { dependsOn: t.dependsOn, mode: t.mode, ...(t.calibration !== undefined ? { calibration: t.calibration } : {}) } : {};
      return { name: t.name, column: t.column, type: t.type, weight: t.weight, ...('labels' in enc ? { labels: enc.labels } : {}), ...cascade };
    }),
    features: spec.features,
    architecture: spec.architecture,
    lossWeighting: spec.lossWeighting,
    training: spec.training,
    metrics: result.validationMetrics ?? result.trainMetrics,
    bestEpoch: result.bestEpoch,
    finalWeights: result.history[result.bestEpoch - 1]?.weights ?? {},
    affinity: result.affinity,
    baselines: trained.baselines,
    epochsRun: result.epochsRun,
    rows: trained.rows,
    trainingTimeMs: Math.round(result.trainingTimeMs),
    samplesPerSec: Math.round(result.samplesPerSec),
    backend: args.backend,
    ...(args.backendAdapter ? { backendAdapter: args.backendAdapter } : {}),
    preprocessing,
    warnings: trained.warnings,
  };
}
