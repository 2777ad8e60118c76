import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { DatasetStore } from '../../store/dataset-store.js';
import type { ModelStore } from '../../store/model-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import type { TrainingQueue } from '../../queue/training-queue.js';
import type { JobEvents } from '../../queue/job-events.js';
import type { ModelCache } from '../model-cache.js';
import type { ModelEvents } from '../../queue/model-events.js';
import type { Redis } from 'ioredis';
import type { StudyQueue } from '../../queue/study-queue.js';
import type { StudyStore } from '../../store/study-store.js';

/**
 * What the routes work with; built by the entry point (or a test) and handed to buildApp, which
 * owns them from then on: closing the app closes them.
 */
export interface AppServices {
  config: Config;
  /** The object store under the datasets and models (readiness probes; closed with the app). */
  objects: ObjectStore;
  datasets: DatasetStore;
  models: ModelStore;
  trainingQueue: TrainingQueue;
  /** Live job changes, for the Server-Sent Events stream. */
  jobEvents: JobEvents;
  modelCache: ModelCache;
  /** Model changes shared with the other API replicas and the workers (Redis pub/sub). */
  modelEvents?: ModelEvents;
  /** Where the rate-limit counters are, shared by every replica; unset: in this process. */
  rateLimitRedis?: Redis;
  /** Studies as their drivers record them, and the queue their drivers take them from. */
  studies: StudyStore;
  studyQueue: StudyQueue;
  /** The TensorFlow.js backend that runs predictions in this process. */
  backend: string;
  /** The GPU it runs on (webgpu backend), one line. */
  backendAdapter?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}

async function services(app: FastifyInstance, opts: { services: AppServices }) {
  const { modelCache, trainingQueue, jobEvents, studyQueue } = opts.services;
  app.decorate('services', opts.services);
  // After the server stopped answering: loaded models answer what their batchers hold and are
  // disposed, then the queue and the job-event reader let go of Redis.
  app.addHook('onClose', async () => {
    modelCache.clear();
    await modelCache.settled();
    // (scripts/openapi.ts builds the app without Redis, hence without queue and job events)
    await studyQueue?.close(); // before the training queue, which owns the connection they share
    await trainingQueue?.close();
    await jobEvents?.close();
    await opts.services.modelEvents?.close();
    opts.services.rateLimitRedis?.disconnect();
    await opts.services.objects?.close();
  });
}

export default fp(services, { name: 'services' });
