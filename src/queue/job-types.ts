import type { ResolvedSpec } from '../mtl/spec.js';
import type { EpochReport } from '../mtl/trainer.js';

export const TRAINING_QUEUE = 'training';
export const TRAINING_JOB = 'train';

/** What a training job carries: the resolved spec and the id its model will have. */
export interface TrainingJobData {
  spec: ResolvedSpec;
  modelId: string;
  submittedAt: string;
  /** Set by POST /v1/jobs/:id/cancel; a worker that picks the job up ends it at once. */
  cancelRequestedAt?: string;
  /** Set on a study's trial (src/worker/study-driver.ts). */
  study?: TrialTag;
}

/** Which study and trial a training job belongs to. */
export interface TrialTag {
  studyId: string;
  trialId: string;
}

/** failedReason of a job that was cancelled (the job ends in BullMQ's failed set with it). */
export const CANCELLED_REASON = 'cancelled';

/** Why a worker stops a running job itself: it shuts down (the job goes back to the queue), or it lost the job's lock (another run resumes it). */
export const SHUTDOWN_REASON = 'shutdown';
export const LOCK_LOST_REASON = 'lock-lost';

/** Redis pub/sub channel on which the API asks every worker process to stop a running job. */
export const cancelChannel = (prefix: string) => `${prefix}:${TRAINING_QUEUE}:cancel`;

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
