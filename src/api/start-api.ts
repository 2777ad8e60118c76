import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { selectBackend } from '../mtl/backend.js';
import { describeAdapter } from '../mtl/webgpu-backend.js';
import { createRedisConnection } from '../queue/connection.js';
import { TrainingQueue } from '../queue/training-queue.js';
import { JobEvents } from '../queue/job-events.js';
import { StudyQueue } from '../queue/study-queue.js';
import type { StudyStore } from '../store/study-store.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { ModelStore } from '../store/model-store.js';
import type { ObjectStore } from '../store/object-store.js';
import { Redis } from 'ioredis';
import { ModelEvents } from '../queue/model-events.js';
import { buildApp, type App } from './app.js';
import { ModelCache } from './model-cache.js';
import type { AppServices } from './plugins/services.js';

/** What the API process is built from: the composition root's (src/composition-root.ts), or a test's. */
export interface ApiRoot {
  config: Config;
  logger: Logger;
  redisUrl: string;
  stores: { objects: ObjectStore; datasets: DatasetStore; models: ModelStore; studies: StudyStore };
}

/** Wires the stores, the queue and the model cache for the API process. */
export async function createServices({ config, logger, redisUrl, stores }: ApiRoot): Promise<AppServices> {
  const backend = await selectBackend(config.TF_BACKEND, 'serving', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
  logger.info({ backend: backend.name, package: backend.detail, ...(backend.adapter ? { adapter: backend.adapter } : {}) }, `TensorFlow.js backend: ${backend.name}`);
  const connection = createRedisConnection(redisUrl, 'producer');
  connection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const trainingQueue = new TrainingQueue(connection, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, retentionHours: config.JOB_RETENTION_HOURS });
  const jobEvents = new JobEvents(redisUrl, config.QUEUE_PREFIX);
  const studyQueue = new StudyQueue(connection, { prefix: config.QUEUE_PREFIX, retentionHours: config.JOB_RETENTION_HOURS });
  const { datasets, models, studies } = stores;
  const modelCache = new ModelCache(models, {
    capacity: config.MODEL_CACHE_SIZE,
    recheckMs: config.MODEL_CACHE_RECHECK_MS,
    maxBatch: config.PREDICT_MAX_BATCH,
    maxDelayMs: config.PREDICT_MAX_DELAY_MS,
  });
  // Deletes, new versions and alias moves through any replica (or a worker) reach this cache at once.
  const modelEvents = new ModelEvents(redisUrl, config.QUEUE_PREFIX);
  modelCache.broadcast = (change) => void modelEvents.publish(change);
  modelEvents.subscribe((change) => modelCache.apply(change)).catch((err: Error) => logger.warn({ err: err.message }, 'model change subscription failed; caches rely on MODEL_CACHE_RECHECK_MS'));
  // Rate-limit counters in Redis: N replicas allow the limit once, not N times.
  const rateLimitRedis = new Redis(redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1 });
  rateLimitRedis.on('error', () => undefined); // counted in this process meanwhile (skipOnError)
  return {
    config,
    modelEvents,
    rateLimitRedis,
    objects: stores.objects,
    datasets,
    models,
    trainingQueue,
    jobEvents,
    modelCache,
    studies,
    studyQueue,
    backend: backend.name,
    ...(backend.adapter ? { backendAdapter: describeAdapter(backend.adapter) } : {}),
  };
}

/** Builds the app and listens on HOST:PORT; closing it also closes its services (plugins/services.ts). */
export async function startApi(root: ApiRoot): Promise<App> {
  const app = await buildApp(await createServices(root), { loggerInstance: root.logger });
  await app.listen({ port: root.config.PORT, host: root.config.HOST });
  return app;
}
