import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ResolvedSpec } from '../mtl/spec.js';
import type { EpochReport } from '../mtl/trainer.js';
import { newId } from '../store/ids.js';
import { NotFoundError } from '../store/store-errors.js';
import { TRAINING_JOB, TRAINING_QUEUE, type JobState, type TrainingJobData, type TrainingJobProgress, type TrainingJobResult } from './job-types.js';

/** A training job as users see it. */
export interface JobView {
  id: string;
  name: string;
  datasetId: string;
  state: JobState;
  progress: { epoch: number; epochs: number; percent: number };
  history: EpochReport[];
  modelId: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: TrainingJobResult | null;
}

export interface TrainingQueueOptions {
  prefix: string;
  attempts: number;
  retentionHours: number;
}

/** The API's side of the training queue: enqueue specs, read jobs back. It never trains. */
export class TrainingQueue {
  readonly queue: Queue<TrainingJobData, TrainingJobResult>;

  constructor(private readonly connection: Redis, options: TrainingQueueOptions) {
    const retention = { age: Math.round(options.retentionHours * 3600), count: 10000 };
    const defaultJobOptions: JobsOptions = {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: retention,
      removeOnFail: retention,
    };
    this.queue = new Queue(TRAINING_QUEUE, { connection, prefix: options.prefix, defaultJobOptions });
    this.queue.on('error', () => undefined); // connection errors surface on the calls that need Redis
  }

  /** Queues a job; its model will get `modelId` when the job succeeds. */
  async enqueue(spec: ResolvedSpec): Promise<{ id: string; modelId: string }> {
    const id = newId();
    const data: TrainingJobData = { spec, modelId: newId(), submittedAt: new Date().toISOString() };
    await this.queue.add(TRAINING_JOB, data, { jobId: id });
    return { id, modelId: data.modelId };
  }

  async get(id: string): Promise<JobView> {
    const job = await this.queue.getJob(id);
    if (!job) throw new NotFoundError('job', id);
    return toView(job, mapState(await job.getState(), job));
  }

  async list(limit = 100): Promise<JobView[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'], 0, limit - 1);
    const views = await Promise.all(jobs.filter(Boolean).map(async (j) => toView(j, mapState(await j.getState(), j))));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  /** Jobs not yet finished that train on this dataset. */
  async activeJobsFor(datasetId: string): Promise<string[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed'], 0, -1);
    return jobs.filter((j) => j?.data.spec.datasetId === datasetId).map((j) => j.id!);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.connection.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export const CANCELLED_REASON = 'cancelled';

function mapState(state: string, job: Job): JobState {
  switch (state) {
    case 'active':
      return 'running';
    case 'completed':
      return 'succeeded';
    case 'failed':
      return job.failedReason === CANCELLED_REASON ? 'cancelled' : 'failed';
    default:
      return 'queued';
  }
}

function toView(job: Job<TrainingJobData, TrainingJobResult>, state: JobState): JobView {
  const progress = (typeof job.progress === 'object' ? job.progress : null) as TrainingJobProgress | null;
  const epochs = job.data.spec.training.epochs;
  return {
    id: job.id!,
    name: job.data.spec.name,
    datasetId: job.data.spec.datasetId,
    state,
    progress: {
      epoch: progress?.epoch ?? 0,
      epochs: progress?.epochs ?? epochs,
      percent: state === 'succeeded' ? 100 : (progress?.percent ?? 0),
    },
    history: progress?.history ?? [],
    modelId: state === 'succeeded' ? job.data.modelId : null,
    error: state === 'failed' || state === 'cancelled' ? (job.failedReason ?? null) : null,
    attempts: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
    startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    result: job.returnvalue ?? null,
  };
}
