import type { ResolvedSpec } from '../mtl/spec.js';
import type { EpochReport } from '../mtl/trainer.js';

export const TRAINING_QUEUE = 'training';
export const TRAINING_JOB = 'train';

/** What a training job carries: the resolved spec and the id its model will have. */
export interface TrainingJobData {
  spec: ResolvedSpec;
  modelId: string;
  submittedAt: string;
}

/** Reported once per epoch (BullMQ job progress); the API shows it as-is. */
export interface TrainingJobProgress {
  epoch: number;
  epochs: number;
  percent: number;
  history: EpochReport[];
}

export interface TrainingJobResult {
  modelId: string;
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  samplesPerSec: number;
  backend: string;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
