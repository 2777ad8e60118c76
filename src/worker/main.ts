import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { loggerOptions } from '../logger.js';
import { createTrainingWorker } from './create-training-worker.js';

/** `npm run start:worker`: one worker process; start more (on more machines) to scale out. */
const config = loadConfig();
const logger = pino(loggerOptions(config.LOG_LEVEL, 'worker'));
const redisUrl = config.REDIS_URL ?? 'redis://127.0.0.1:6379';
const worker = createTrainingWorker({ redisUrl, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY, logger });
logger.info({ redis: redisUrl.replace(/\/\/[^@]*@/, '//***@'), concurrency: config.WORKER_CONCURRENCY, backend: config.TF_BACKEND }, 'worker started');

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'worker shutting down');
    await worker.close();
    process.exit(0);
  });
}
