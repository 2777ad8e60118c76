import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CheckpointStore } from '../store/checkpoint-store.js';
import { createTrainingWorker, type TrainingWorker } from './create-training-worker.js';
import { serveWorkerMetrics } from './worker-metrics.js';
import { ModelEvents } from '../queue/model-events.js';

/** What a worker is built from: the composition root's (src/composition-root.ts) settings, logger and checkpoint store. */
export interface WorkerRoot {
  config: Config;
  logger: Logger;
  redisUrl: string;
  stores: { checkpoints: CheckpointStore };
}

/** Starts one training worker with the settings' concurrency and lock timings, and its /metrics when WORKER_METRICS_PORT is set. */
export function startWorker({ config, logger, redisUrl, stores }: WorkerRoot): TrainingWorker {
  const training = createTrainingWorker({
    redisUrl,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    logger,
    lockMs: config.WORKER_LOCK_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    checkpoints: stores.checkpoints,
  });
  serveWorkerMetrics(training.worker, config.WORKER_METRICS_PORT, logger);
  // Every API replica hears of a new model (a new latest version of its name) at once.
  const modelEvents = new ModelEvents(redisUrl, config.QUEUE_PREFIX);
  training.worker.on('completed', (job) => void modelEvents.publish({ id: job.returnvalue?.modelId }));
  training.worker.on('closed', () => void modelEvents.close());
  return training;
}
