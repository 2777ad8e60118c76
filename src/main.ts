import { closeGracefully, composeRoot, verifyStoresOrExit, maskRedisUrl, resolveOneMachineRedis } from './composition-root.js';
import { startApi } from './api/start-api.js';
import { drainConnections } from './api/drain-connections.js';
import { startWorker } from './worker/start-worker.js';

/**
 * `npm start`: everything on one machine — Redis (REDIS_URL, a local one on 6379, or a private
 * redis-server with its files under DATA_DIR/redis), the API and one training worker.
 */
const { config, logger, stores } = composeRoot('mtl');

await verifyStoresOrExit(stores, logger);
let redis;
try {
  redis = await resolveOneMachineRedis(config);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(1);
}
logger.info({ redis: maskRedisUrl(redis.url), source: redis.source }, 'using Redis');

const worker = startWorker({ config, logger: logger.child({ component: 'worker' }), redisUrl: redis.url, stores });
const app = await startApi({ config, logger, redisUrl: redis.url, stores });
logger.info(`MTL service ready: http://${config.HOST}:${config.PORT} (Swagger UI at /docs)`);

// The API stops taking requests first (keep-alive clients are told to go, then it closes), then
// running jobs checkpoint and go back to the queue, then a Redis we started writes its files and stops.
closeGracefully({ logger, message: 'shutting down', delayMs: config.API_DRAIN_MS + config.WORKER_SHUTDOWN_GRACE_MS + 10_000 }, async () => {
  await drainConnections(app.server, config.API_DRAIN_MS);
  await app.close();
  await worker.shutdown(config.WORKER_SHUTDOWN_GRACE_MS);
  await redis.stop();
});
