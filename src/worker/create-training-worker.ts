import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Job, Worker, type ChildPool } from 'bullmq';
import type { Logger } from 'pino';
import { createRedisConnection } from '../queue/connection.js';
import type { CheckpointStore } from '../store/checkpoint-store.js';
import { cancelChannel, CANCELLED_REASON, LOCK_LOST_REASON, SHUTDOWN_REASON, TRAINING_QUEUE, type TrainingJobData, type TrainingJobResult } from '../queue/job-types.js';

/** The processor file beside this one: .ts when run from source (tsx), .js when built. */
function processorPath(): string {
  for (const ext of ['.js', '.ts']) {
    const path = fileURLToPath(new URL(`./training-processor${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('training-processor not found beside create-training-worker');
}

export interface TrainingWorkerOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  logger: Logger;
  /** How long a job's lock lasts without renewal: a worker that died loses its job after this. */
  lockMs: number;
  /** How often this worker looks for jobs whose worker died (stalled jobs). */
  stalledIntervalMs: number;
  /** Where training checkpoints are: a job's is deleted once the job has failed for good. */
  checkpoints: CheckpointStore;
}

export interface TrainingWorker {
  worker: Worker<TrainingJobData, TrainingJobResult>;
  /**
   * Graceful stop: running jobs checkpoint and go back to the queue (another worker resumes them),
   * then the worker closes. After `graceMs` it lets go of Redis and kills the training child
   * processes that are still running (a step that does not return, a child that does not answer):
   * their jobs then stall and are recovered from their last checkpoint by another worker.
   */
  shutdown: (graceMs: number) => Promise<void>;
}

/** A BullMQ worker that runs each training job in a sandboxed child process and obeys cancel requests. */
export function createTrainingWorker(opts: TrainingWorkerOptions): TrainingWorker {
  const connection = createRedisConnection(opts.redisUrl, 'worker');
  const subscriber = createRedisConnection(opts.redisUrl, 'worker');
  const worker = new Worker<TrainingJobData, TrainingJobResult>(TRAINING_QUEUE, processorPath(), {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: opts.stalledIntervalMs,
    maxStalledCount: 3,
  });
  const log = opts.logger;
  const cancel = (jobId: string) => {
    if (worker.cancelJob(jobId, CANCELLED_REASON)) log.info({ jobId }, 'cancelling running job');
  };
  void subscriber.subscribe(cancelChannel(opts.prefix));
  subscriber.on('message', (_channel, jobId: string) => cancel(jobId));
  worker.on('active', (job) => {
    log.info({ jobId: job.id }, 'job started');
    // A cancel published while this worker was fetching the job would be missed: look once more.
    setTimeout(async () => {
      const fresh = await Job.fromId<TrainingJobData>(worker as never, job.id!).catch(() => undefined);
      if (fresh?.data.cancelRequestedAt) cancel(job.id!);
    }, 500).unref();
  });
  worker.on('completed', (job) => log.info({ jobId: job.id, modelId: job.returnvalue?.modelId }, 'job succeeded'));
  // A job that failed for good (no attempt left, unrecoverable, stalled too often: BullMQ fails
  // those when a worker next picks them up) will never resume: its checkpoint goes. One that will
  // be retried keeps it, to resume from.
  const dropCheckpointIfFinal = async (jobId: string) => {
    const job = await Job.fromId(worker as never, jobId);
    const state = job ? await job.getState() : 'unknown';
    if (state !== 'failed' && state !== 'unknown') return;
    await opts.checkpoints.delete(jobId);
    log.info({ jobId }, 'job failed for good: checkpoint deleted');
  };
  const cleanUp = (jobId: string | undefined) => {
    if (jobId) dropCheckpointIfFinal(jobId).catch((err: Error) => log.warn({ jobId, err: err.message }, 'could not delete the checkpoint of a failed job'));
  };
  worker.on('failed', (job, err) => {
    log.warn({ jobId: job?.id, err: err.message, attemptsMade: job?.attemptsMade }, 'job failed');
    cleanUp(job?.id);
  });
  // The job's lock is gone (it expired while Redis was away, say): the stalled-job check hands the
  // job to another run, which resumes it from its checkpoint. This run stops, so that two runs never
  // train (and write the progress of) one job.
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const jobId of jobIds) if (worker.cancelJob(jobId, LOCK_LOST_REASON)) log.warn({ jobId }, 'lost the job lock: stopping this run; the job resumes from its checkpoint');
  });
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('closed', () => {
    connection.disconnect();
    subscriber.disconnect();
  });
  return {
    worker,
    shutdown: async (graceMs) => {
      worker.cancelAllJobs(SHUTDOWN_REASON);
      const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref());
      const inTime = await Promise.race([worker.close().then(() => true), timer]);
      subscriber.disconnect();
      if (inTime) return;
      // Let go of Redis first, so a killed child is not recorded as a failed attempt: its job
      // stalls (the lock is no longer renewed) and another worker resumes it from its checkpoint.
      connection.disconnect();
      const pids = await killTrainingChildren(worker);
      if (pids.length > 0) log.warn({ graceMs, pids }, 'shutdown grace ran out: training child processes killed; their jobs resume from their last checkpoint elsewhere');
    },
  };
}

/**
 * Kills (SIGKILL) the worker's sandboxed child processes, busy or idle, and waits until they are
 * gone. BullMQ's own `close()` only asks them (SIGTERM), and a child waits for its current job
 * before it obeys.
 */
async function killTrainingChildren(worker: Worker): Promise<number[]> {
  const pool = (worker as unknown as { childPool?: ChildPool }).childPool;
  if (!pool) return [];
  const children = [...Object.values(pool.retained), ...pool.getAllFree()];
  await Promise.all(children.map((child) => pool.kill(child, 'SIGKILL')));
  return children.map((child) => child.pid);
}
