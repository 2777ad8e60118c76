import type { MetricName } from '../mtl/metrics.js';
import type { ResolvedSpec } from '../mtl/spec.js';
import type { StudySearch, TrialPlan } from '../mtl/study-search.js';

export const STUDY_QUEUE = 'studies';
export const STUDY_JOB = 'study';

export type StudyState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type TrialState = 'planned' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A task's headline validation metric (accuracy, auc, microF1, rmse). */
export interface MetricValue {
  metric: MetricName;
  value: number | null;
}

/** One training job of a trial: the trial at one rung of successive halving. */
export interface TrialRun {
  rung: number;
  epochs: number;
  jobId: string;
  modelId: string;
  state: TrialState;
}

export interface StudyTrial extends TrialPlan {
  /** The job of the trial's latest run (null before it is queued). */
  jobId: string | null;
  /** The model of the trial's latest succeeded run. */
  modelId: string | null;
  state: TrialState;
  runs: TrialRun[];
  /** Per-task validation metric of the latest finished run. */
  validation: Record<string, MetricValue>;
  /** Per-task gain over its reference (sign: positive is better). */
  gains: Record<string, number | null>;
  score: number | null;
  /** Stopped by successive halving before the last rung. */
  stoppedEarly: boolean;
  parameters: number;
  epochs: number;
}

export interface StudyReference {
  linear: MetricValue | null;
  single: MetricValue | null;
}

export interface StudyBest {
  trialId: string;
  modelId: string;
  /** The trial's own model (named `<study>-trials`); `modelId` is its copy named after the study. */
  trialModelId: string;
  version: number | null;
  score: number;
  tasks: Record<string, { metric: MetricName; value: number | null; reference: number | null; referenceKind: 'linear' | 'single' | null; gain: number | null }>;
  deltaM: number | null;
}

/** What a study is, as stored (src/store/study-store.ts) and as GET /v1/studies/:id shows it. */
export interface StudyRecord {
  id: string;
  name: string;
  datasetId: string;
  state: StudyState;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The base of every trial: tasks, features, split and seed (architecture and options vary per trial). */
  base: ResolvedSpec;
  budget: { trials: number; maxMinutes: number };
  search: StudySearch;
  /** Successive halving: epochs of each rung, and 1/eta of a rung's trials go on to the next. */
  rungs: number[];
  eta: number;
  progress: { done: number; total: number };
  /** The first job: a hard-sharing model with task affinity and single-task (and linear) references. */
  referenceJob: { jobId: string; modelId: string; state: TrialState } | null;
  references: Record<string, StudyReference>;
  affinity: { tasks: string[]; matrix: number[][]; groups: string[][] } | null;
  /** Groupings of the tasks the search tried (from the affinity, plus all together and each alone). */
  groupings: string[][][];
  trials: StudyTrial[];
  best: StudyBest | null;
  pareto: string[];
  grouping: string[][] | null;
}

/** What a study job carries (the study itself is in the study store). */
export interface StudyJobData {
  studyId: string;
  cancelRequestedAt?: string;
}

/** Redis pub/sub channel on which the API tells the study drivers a study was cancelled. */
export const studyCancelChannel = (prefix: string) => `${prefix}:${STUDY_QUEUE}:cancel`;
