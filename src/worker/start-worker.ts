import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CheckpointStore } from '../store/checkpoint-store.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { ModelStore } from '../store/model-store.js';
import type { StudyStore } from '../store/study-store.js';
import { createTrainingWorker, type TrainingWorker } from './create-training-worker.js';
import { createStudyWorker } from './create-study-worker.js';
import { serveWorkerMetrics } from './worker-metrics.js';

/** What a worker is built from: the composition root's (src/composition-root.ts) settings, logger and stores. */
export interface WorkerRoot {
  config: Config;
  logger: Logger;
  redisUrl: string;
  stores: { checkpoints: CheckpointStore; datasets: DatasetStore; models: ModelStore; studies: StudyStore };
}

/**
 * Starts one training worker with the settings' concurrency and lock timings, its /metrics when
 * WORKER_METRICS_PORT is set, and the study drivers (they plan and wait; trials train as jobs).
 */
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
  const studies = createStudyWorker({
    redisUrl,
    prefix: config.QUEUE_PREFIX,
    logger,
    lockMs: config.WORKER_LOCK_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    attempts: config.JOB_ATTEMPTS,
    retentionHours: config.JOB_RETENTION_HOURS,
    stores,
    pollMs: config.STUDY_POLL_MS,
  });
  return {
    worker: training.worker,
    shutdown: async (graceMs) => {
      await Promise.all([studies.shutdown(Math.min(graceMs, 5000)), training.shutdown(graceMs)]);
    },
  };
}
