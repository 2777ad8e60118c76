import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { predictInstances } from '../../mtl/predictor.js';
import { ModelListSchema, ModelSchema, PredictRequestSchema, PredictResponseSchema } from '../schemas/model.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';

const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app.services;

  app.get('/v1/models', { schema: { tags: ['models'], summary: 'List trained models (newest first)', response: { 200: ModelListSchema } } }, async () => ({
    models: await app.services.models.list(),
  }));

  app.get(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'A model: tasks with label sets, features, architecture, per-task validation metrics, training time and speed, backend',
        params: IdParamsSchema,
        response: { 200: ModelSchema, ...problems(404) },
      },
    },
    async (request) => app.services.models.get(request.params.id),
  );

  app.delete(
    '/v1/models/:id',
    { schema: { tags: ['models'], summary: 'Delete a model', params: IdParamsSchema, response: { 204: Type.Null(), ...problems(404) } } },
    async (request, reply) => {
      await app.services.models.delete(request.params.id);
      app.services.modelCache.evict(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/models/:id/predict',
    {
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        tags: ['models'],
        summary: 'Predict every task for each instance, from one forward pass',
        params: IdParamsSchema,
        body: { ...PredictRequestSchema(config.PREDICT_MAX_ROWS), examples: [{ instances: [{ p0: 0, p1: 0, p2: 5 }] }] },
        response: { 200: PredictResponseSchema, ...problems(400, 404, 413) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const model = await app.services.modelCache.get(id);
      const predictions = predictInstances(model.serving, model.metadata.preprocessing, request.body.instances);
      return { modelId: id, predictions };
    },
  );
};

export default modelRoutes;
