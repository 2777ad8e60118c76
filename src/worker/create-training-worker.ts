import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createRedisConnection } from '../queue/connection.js';
import { TRAINING_QUEUE, type TrainingJobData, type TrainingJobResult } from '../queue/job-types.js';

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
}

/** A BullMQ worker that runs each training job in a sandboxed child process. */
export function createTrainingWorker(opts: TrainingWorkerOptions): Worker<TrainingJobData, TrainingJobResult> {
  const connection = createRedisConnection(opts.redisUrl, 'worker');
  const worker = new Worker<TrainingJobData, TrainingJobResult>(TRAINING_QUEUE, processorPath(), {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: 60_000,
    stalledInterval: 30_000,
    maxStalledCount: 2,
  });
  const log = opts.logger;
  worker.on('active', (job) => log.info({ jobId: job.id }, 'job started'));
  worker.on('completed', (job) => log.info({ jobId: job.id, modelId: job.returnvalue?.modelId }, 'job succeeded'));
  worker.on('failed', (job, err) => log.warn({ jobId: job?.id, err: err.message, attemptsMade: job?.attemptsMade }, 'job failed'));
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('closed', () => connection.disconnect());
  return worker;
}
