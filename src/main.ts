import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { loggerOptions } from './logger.js';
import { startApi } from './api/start-api.js';
import { resolveRedis } from './queue/local-redis.js';
import { createTrainingWorker } from './worker/create-training-worker.js';
import { serveWorkerMetrics } from './worker/worker-metrics.js';

/**
 * `npm start`: everything on one machine — Redis (REDIS_URL, a local one on 6379, or a private
 * redis-server with its files under DATA_DIR/redis), the API and one training worker.
 */
const config = loadConfig();
const logger = pino(loggerOptions(config.LOG_LEVEL, 'mtl'));

let redis;
try {
  redis = await resolveRedis({ redisUrl: config.REDIS_URL, dir: join(config.DATA_DIR, 'redis'), persist: true });
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(1);
}
logger.info({ redis: redis.url.replace(/\/\/[^@]*@/, '//***@'), source: redis.source }, 'using Redis');

const worker = createTrainingWorker({
  redisUrl: redis.url,
  prefix: config.QUEUE_PREFIX,
  concurrency: config.WORKER_CONCURRENCY,
  logger: logger.child({ component: 'worker' }),
  lockMs: config.WORKER_LOCK_MS,
  stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
});
serveWorkerMetrics(worker.worker, config.WORKER_METRICS_PORT, logger);
const app = await startApi(config, redis.url, logger);
logger.info(`MTL service ready: http://${config.HOST}:${config.PORT} (Swagger UI at /docs)`);

closeWithGrace({ delay: config.WORKER_SHUTDOWN_GRACE_MS + 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'closing after an error');
  else logger.info({ signal }, 'shutting down');
  await app.close();
  await worker.shutdown(config.WORKER_SHUTDOWN_GRACE_MS);
  await redis.stop();
});
