import type { Preprocessing } from '../mtl/preprocessing.js';
import type { ResolvedSpec, TaskType } from '../mtl/spec.js';
import type { TaskMetrics } from '../mtl/metrics.js';
import type { Scalar } from '../mtl/values.js';

/** What the store keeps beside a model's weights, and what `GET /v1/models/:id` shows. */
export interface ModelMetadata {
  id: string;
  name: string;
  createdAt: string;
  jobId: string;
  datasetId: string;
  tasks: { name: string; column: string; type: TaskType; weight: number; labels?: Scalar[] }[];
  features: ResolvedSpec['features'];
  architecture: ResolvedSpec['architecture'];
  training: ResolvedSpec['training'];
  /** Validation metrics per task at the kept (best) epoch; training-sample metrics when there was no validation split. */
  metrics: Record<string, TaskMetrics>;
  bestEpoch: number;
  epochsRun: number;
  rows: { train: number; validation: number };
  trainingTimeMs: number;
  samplesPerSec: number;
  backend: string;
  preprocessing: Preprocessing;
  warnings: string[];
}
