import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { DatasetStore } from '../../store/dataset-store.js';
import type { ModelStore } from '../../store/model-store.js';
import type { TrainingQueue } from '../../queue/training-queue.js';
import type { JobEvents } from '../../queue/job-events.js';
import type { ModelCache } from '../model-cache.js';

/** What the routes work with; built by the entry point (or a test) and handed to buildApp. */
export interface AppServices {
  config: Config;
  datasets: DatasetStore;
  models: ModelStore;
  trainingQueue: TrainingQueue;
  /** Live job changes, for the Server-Sent Events stream. */
  jobEvents: JobEvents;
  modelCache: ModelCache;
  /** The TensorFlow.js backend that runs predictions in this process. */
  backend: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}

async function services(app: FastifyInstance, opts: { services: AppServices }) {
  app.decorate('services', opts.services);
}

export default fp(services, { name: 'services' });
