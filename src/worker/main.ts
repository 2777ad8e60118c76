import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { loggerOptions } from '../logger.js';
import { createTrainingWorker } from './create-training-worker.js';
import { serveWorkerMetrics } from './worker-metrics.js';

/** `npm run start:worker`: one worker process; start more (on more machines) to scale out. */
const config = loadConfig();
const logger = pino(loggerOptions(config.LOG_LEVEL, 'worker'));
const redisUrl = config.REDIS_URL ?? 'redis://127.0.0.1:6379';
const { worker, shutdown } = createTrainingWorker({
  redisUrl,
  prefix: config.QUEUE_PREFIX,
  concurrency: config.WORKER_CONCURRENCY,
  logger,
  lockMs: config.WORKER_LOCK_MS,
  stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
});
serveWorkerMetrics(worker, config.WORKER_METRICS_PORT, logger);
logger.info({ redis: redisUrl.replace(/\/\/[^@]*@/, '//***@'), concurrency: config.WORKER_CONCURRENCY, backend: config.TF_BACKEND }, 'worker started');

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal, graceMs: config.WORKER_SHUTDOWN_GRACE_MS }, 'worker shutting down: running jobs checkpoint and go back to the queue');
    await shutdown(config.WORKER_SHUTDOWN_GRACE_MS);
    logger.info('worker stopped');
    process.exit(0);
  });
}
