import { composeRoot, maskRedisUrl, redisUrlOf } from '../composition-root.js';
import { startWorker } from './start-worker.js';

/** `npm run start:worker`: one worker process; start more (on more machines) to scale out. */
const { config, logger } = composeRoot('worker');
const redisUrl = redisUrlOf(config);
const { shutdown } = startWorker({ config, logger, redisUrl });
logger.info({ redis: maskRedisUrl(redisUrl), concurrency: config.WORKER_CONCURRENCY, backend: config.TF_BACKEND }, 'worker started');

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
