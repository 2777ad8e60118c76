import { DelayedError, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createRedisConnection } from '../queue/connection.js';
import { STUDY_QUEUE, type StudyJobData } from '../queue/study-types.js';
import { TrainingQueue } from '../queue/training-queue.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { ModelStore } from '../store/model-store.js';
import type { StudyStore } from '../store/study-store.js';
import { driveStudy, DriverStopped } from './study-driver.js';

export interface StudyWorkerOptions {
  redisUrl: string;
  prefix: string;
  logger: Logger;
  lockMs: number;
  stalledIntervalMs: number;
  attempts: number;
  retentionHours: number;
  stores: { datasets: DatasetStore; models: ModelStore; studies: StudyStore };
  /** How often a driver looks at its trials. */
  pollMs: number;
}

export interface StudyWorker {
  worker: Worker<StudyJobData>;
  shutdown: (graceMs: number) => Promise<void>;
}

const SHUTDOWN = 'shutdown';

/**
 * Runs study drivers (src/worker/study-driver.ts) in this process: they only plan and wait, the
 * trials train on the training queue. A driver whose process dies stalls and is picked up by
 * another worker, which carries on from the study's record.
 */
export function createStudyWorker(opts: StudyWorkerOptions): StudyWorker {
  const connection = createRedisConnection(opts.redisUrl, 'worker');
  const queueConnection = createRedisConnection(opts.redisUrl, 'worker');
  const trainingQueue = new TrainingQueue(queueConnection, { prefix: opts.prefix, attempts: opts.attempts, retentionHours: opts.retentionHours });
  const studyQueue = new Queue<StudyJobData>(STUDY_QUEUE, { connection: queueConnection, prefix: opts.prefix });
  studyQueue.on('error', () => undefined);
  const log = opts.logger;
  const worker: Worker<StudyJobData> = new Worker<StudyJobData>(
    STUDY_QUEUE,
    async (job, token, signal) => {
      const { studyId } = job.data;
      try {
        return await driveStudy(studyId, {
          ...opts.stores,
          trainingQueue,
          pollMs: opts.pollMs,
          signal,
          log: (message, details = {}) => {
            log.info({ studyId, ...details }, message);
            void job.log(`${new Date().toISOString()} ${message}`).catch(() => undefined);
          },
          cancelRequested: async () => {
            const fresh = await studyQueue.getJob(studyId).catch(() => undefined);
            return Boolean(fresh?.data.cancelRequestedAt);
          },
        }).then((r) => ({ state: r.state }));
      } catch (err) {
        if (err instanceof DriverStopped && signal?.reason === SHUTDOWN) {
          // Hand the study back: another (or this, restarted) worker's driver carries on from its record.
          await job.moveToDelayed(Date.now() + 500, token);
          throw new DelayedError();
        }
        throw err;
      }
    },
    { connection, prefix: opts.prefix, concurrency: 16, lockDuration: opts.lockMs, stalledInterval: opts.stalledIntervalMs, maxStalledCount: 10 },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'study worker error'));
  worker.on('failed', (job, err) => log.warn({ studyId: job?.id, err: err.message }, 'study driver failed'));
  worker.on('closed', () => {
    connection.disconnect();
  });
  return {
    worker,
    shutdown: async (graceMs) => {
      worker.cancelAllJobs(SHUTDOWN);
      const timer = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([worker.close(), timer]);
      await studyQueue.close().catch(() => undefined);
      await trainingQueue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}
