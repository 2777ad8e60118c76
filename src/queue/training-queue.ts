import type { EventEmitter } from 'node:events';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ResolvedSpec } from '../mtl/spec.js';
import type { EpochReport } from '../mtl/trainer.js';
import { newId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import { createHash } from 'node:crypto';
import { CANCELLED_REASON, cancelChannel, TRAINING_JOB, TRAINING_QUEUE, type JobState, type TrainingJobData, type TrainingJobProgress, type TrainingJobResult, type TrialTag } from './job-types.js';
import { DatasetBusyError, IdempotencyKeyReusedError, JobStateConflictError } from './queue-errors.js';
import { RedisLock } from './redis-lock.js';

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
  /** The study and trial this job trains, if it is a study's trial. */
  study: TrialTag | null;
}

export interface TrainingQueueOptions {
  prefix: string;
  attempts: number;
  retentionHours: number;
}

/**
 * The API's side of the training queue: enqueue specs, read jobs back. It never trains. It owns
 * the producer connection it is given: `close()` disconnects it.
 */
export class TrainingQueue {
  readonly queue: Queue<TrainingJobData, TrainingJobResult>;

  private readonly prefix: string;
  private readonly retentionSeconds: number;
  private readonly datasetLocks: RedisLock;

  constructor(private readonly connection: Redis, options: TrainingQueueOptions) {
    this.prefix = options.prefix;
    this.retentionSeconds = Math.max(60, Math.round(options.retentionHours * 3600));
    const retention = { age: Math.round(options.retentionHours * 3600), count: 10000 };
    const defaultJobOptions: JobsOptions = {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: retention,
      removeOnFail: retention,
    };
    this.queue = new Queue(TRAINING_QUEUE, { connection, prefix: options.prefix, defaultJobOptions });
    this.queue.on('error', () => undefined); // connection errors surface on the calls that need Redis
    // Held for the milliseconds of a check and a write; the TTL only frees the lock of a process that died.
    this.datasetLocks = new RedisLock(connection, { ttlMs: 30_000, waitMs: 5_000 });
  }

  /**
   * Runs `fn` (check that the dataset exists, queue a job on it) while the dataset cannot be
   * deleted: the check and the job are one step for every API process on this Redis. Jobs on the
   * same dataset do not wait for each other. DatasetBusyError when a delete holds it for long.
   */
  claimDataset<T>(datasetId: string, fn: () => Promise<T>): Promise<T> {
    return this.datasetLocks.shared(this.datasetLockKey(datasetId), fn, () => new DatasetBusyError(datasetId));
  }

  /**
   * Runs `fn` (check that no unfinished job uses the dataset, delete it) while no job can be queued
   * on it, and after every job being queued on it is in the queue. DatasetBusyError when it waits
   * too long.
   */
  lockDataset<T>(datasetId: string, fn: () => Promise<T>): Promise<T> {
    return this.datasetLocks.exclusive(this.datasetLockKey(datasetId), fn, () => new DatasetBusyError(datasetId));
  }

  private datasetLockKey(datasetId: string): string {
    return `${this.prefix}:${TRAINING_QUEUE}:dataset-lock:${datasetId}`;
  }

  /**
   * Queues a job; its model will get `modelId` when the job succeeds. With an idempotency key, the
   * same key and body return the first job (`replayed`), the same key with another body is refused.
   */
  async enqueue(spec: ResolvedSpec, idempotency?: { key: string; body: unknown }): Promise<{ id: string; modelId: string; replayed: boolean }> {
    const id = newId();
    const data: TrainingJobData = { spec, modelId: newId(), submittedAt: new Date().toISOString() };
    if (idempotency) {
      const redisKey = `${this.prefix}:${TRAINING_QUEUE}:idempotency:${sha256(idempotency.key)}`;
      const record = JSON.stringify({ jobId: id, modelId: data.modelId, body: sha256(canonicalJson(idempotency.body)) });
      const stored = await this.connection.set(redisKey, record, 'EX', this.retentionSeconds, 'NX');
      if (stored === null) {
        const existing = JSON.parse((await this.connection.get(redisKey)) ?? '{}') as { jobId: string; modelId: string; body: string };
        if (existing.body !== sha256(canonicalJson(idempotency.body))) throw new IdempotencyKeyReusedError(existing.jobId);
        return { id: existing.jobId, modelId: existing.modelId, replayed: true };
      }
    }
    await this.queue.add(TRAINING_JOB, data, { jobId: id });
    return { id, modelId: data.modelId, replayed: false };
  }

  /**
   * Queues a study's trial under ids chosen beforehand (the study records them first, so a driver
   * that restarts after a crash queues nothing twice: BullMQ ignores a second add of the same id).
   */
  async enqueueTrial(spec: ResolvedSpec, ids: { jobId: string; modelId: string }, tag: TrialTag): Promise<void> {
    const data: TrainingJobData = { spec, modelId: ids.modelId, submittedAt: new Date().toISOString(), study: tag };
    await this.queue.add(TRAINING_JOB, data, { jobId: ids.jobId });
  }

  /** The job, or null when there is none (not an error: a study reads jobs it may have lost). */
  async find(id: string): Promise<JobView | null> {
    const job = await this.queue.getJob(id);
    return job ? this.viewOf(job) : null;
  }

  /**
   * Cancels a queued or running job: marks it (a worker that picks it up ends it at once) and tells
   * every worker process, wherever it runs, to stop it if it is running there.
   */
  async cancel(id: string): Promise<JobView> {
    const job = await this.queue.getJob(id);
    if (!job) throw new NotFoundError('job', id);
    const view = await this.viewOf(job);
    if (view.state === 'succeeded' || view.state === 'failed' || view.state === 'cancelled') throw new JobStateConflictError(id, view.state, 'cancelled');
    await job.updateData({ ...job.data, cancelRequestedAt: new Date().toISOString() });
    await this.connection.publish(cancelChannel(this.prefix), id);
    return this.get(id);
  }

  /** The worker's log lines for a job (data loading, backend, epochs, warnings). */
  async logs(id: string): Promise<{ logs: string[]; count: number }> {
    if (!(await this.queue.getJob(id))) throw new NotFoundError('job', id);
    return this.queue.getJobLogs(id, 0, -1);
  }

  async get(id: string): Promise<JobView> {
    const job = await this.queue.getJob(id);
    if (!job) throw new NotFoundError('job', id);
    return this.viewOf(job);
  }

  async list(limit = 100): Promise<JobView[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'], 0, limit - 1);
    const views = await Promise.all(jobs.filter(Boolean).map((j) => this.viewOf(j)));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  /**
   * The job's hash and its state are two reads: a job that finishes between them would read as
   * failed without its reason (or succeeded without its result). The state is final once finished,
   * so a finished state read after a hash from before the finish reads the hash again.
   */
  async viewOf(job: Job<TrainingJobData, TrainingJobResult>): Promise<JobView> {
    const state = await job.getState();
    if ((state === 'failed' || state === 'completed') && !job.finishedOn) {
      const fresh = await this.queue.getJob(job.id!);
      if (fresh) return toView(fresh, mapState(state, fresh));
    }
    return toView(job, mapState(state, job));
  }

  /** Jobs not yet finished that train on this dataset. */
  async activeJobsFor(datasetId: string): Promise<string[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed'], 0, -1);
    return jobs.filter((j) => j?.data.spec.datasetId === datasetId && !j.data.cancelRequestedAt).map((j) => j.id!);
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
    // BullMQ's close of a shared connection still starting up (its ready check in flight, or Redis
    // away) removes every listener of its RedisConnection, whose start-up then fails when the
    // connection is disconnected below and is emitted as an 'error' nobody hears: the process
    // would die of it. Someone hears it now.
    (this.queue as unknown as { connection?: EventEmitter }).connection?.on('error', () => undefined);
    this.connection.disconnect();
  }
}

function mapState(state: string, job: Job<TrainingJobData>): JobState {
  switch (state) {
    case 'active':
      return 'running';
    case 'waiting':
    case 'prioritized':
    case 'delayed':
    case 'waiting-children':
      return job.data.cancelRequestedAt ? 'cancelled' : 'queued';
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
    error: state === 'failed' ? (job.failedReason ?? null) : state === 'cancelled' ? CANCELLED_REASON : null,
    attempts: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
    startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    result: job.returnvalue ?? null,
    study: job.data.study ?? null,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted, so the same body hashes the same whatever its key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}
