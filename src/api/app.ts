import Fastify, { type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import services, { type AppServices } from './plugins/services.js';
import errorHandler from './plugins/error-handler.js';
import docs from './plugins/swagger.js';
import healthRoutes from './routes/health.js';
import datasetRoutes from './routes/datasets.js';
import jobRoutes from './routes/jobs.js';
import modelRoutes from './routes/models.js';

/** The HTTP API: thin routes over the store, the queue and the model cache. */
export async function buildApp(deps: AppServices, options: FastifyServerOptions = {}) {
  const app = Fastify({
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 64 ? req.headers['x-request-id'] : randomUUID()),
    requestIdHeader: false,
    ajv: { customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false } },
    ...options,
  }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(errorHandler);
  await app.register(services, { services: deps });
  await app.register(docs);
  await app.register(healthRoutes);
  await app.register(datasetRoutes);
  await app.register(jobRoutes);
  await app.register(modelRoutes);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
