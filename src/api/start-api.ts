import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { selectBackend } from '../mtl/backend.js';
import { createRedisConnection } from '../queue/connection.js';
import { TrainingQueue } from '../queue/training-queue.js';
import { JobEvents } from '../queue/job-events.js';
import { DatasetStore } from '../store/dataset-store.js';
import { ModelStore } from '../store/model-store.js';
import { buildApp, type App } from './app.js';
import { ModelCache } from './model-cache.js';
import type { AppServices } from './plugins/services.js';

/** Wires the stores, the queue and the model cache for the API process. */
export async function createServices(config: Config, redisUrl: string, logger: Logger): Promise<AppServices & { close: () => Promise<void> }> {
  const backend = await selectBackend(config.TF_BACKEND, 'serving', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
  logger.info({ backend: backend.name, package: backend.detail }, `TensorFlow.js backend: ${backend.name}`);
  const connection = createRedisConnection(redisUrl, 'producer');
  connection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const trainingQueue = new TrainingQueue(connection, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, retentionHours: config.JOB_RETENTION_HOURS });
  const jobEvents = new JobEvents(redisUrl, config.QUEUE_PREFIX);
  const models = new ModelStore(join(config.DATA_DIR, 'models'));
  const modelCache = new ModelCache(models, {
    capacity: config.MODEL_CACHE_SIZE,
    recheckMs: config.MODEL_CACHE_RECHECK_MS,
    maxBatch: config.PREDICT_MAX_BATCH,
    maxDelayMs: config.PREDICT_MAX_DELAY_MS,
  });
  return {
    config,
    datasets: new DatasetStore(join(config.DATA_DIR, 'datasets')),
    models,
    trainingQueue,
    jobEvents,
    modelCache,
    backend: backend.name,
    close: async () => {
      modelCache.clear();
      await modelCache.settled();
      await trainingQueue.close();
      await jobEvents.close();
      connection.disconnect();
    },
  };
}

/** Builds the app and listens on HOST:PORT; closing it also closes the queue connection. */
export async function startApi(config: Config, redisUrl: string, logger: Logger): Promise<App> {
  const services = await createServices(config, redisUrl, logger);
  const app = await buildApp(services, { loggerInstance: logger });
  app.addHook('onClose', async () => services.close());
  await app.listen({ port: config.PORT, host: config.HOST });
  return app;
}
