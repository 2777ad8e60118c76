import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { HttpProblem } from '../problem.js';
import { servePredictions } from '../serve-predictions.js';
import { withAliases } from '../model-aliases-view.js';
import { ModelListQuerySchema, ModelListSchema, ModelRefParamsSchema, ModelSchema, PredictRequestSchema, PredictResponseSchema, serializePredictResponse } from '../schemas/model.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';
import { paginate } from '../pagination.js';

/** The first scan of examples/digits.csv (a 0) with every pixel feature, so "Try it out" works on the README's digits-mtl model. */
const DIGIT_ZERO = Object.fromEntries('0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,0,5,8,0,0,9,8,0,0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0'.split(',').map((v, i) => [`p${i}`, Number(v)]));

const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app.services;

  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List trained models (newest first); with ?name=, the versions of that name (highest first)',
        querystring: ModelListQuerySchema,
        response: { 200: ModelListSchema, ...problems(400) },
      },
    },
    async function listModels(request) {
      const { name } = request.query;
      const all = await app.services.models.list({ name });
      // With a name, versions order the list (highest first); otherwise creation time (newest first).
      const { page, nextCursor } = paginate(all, (m) => [name === undefined ? m.createdAt : (m.version ?? 0), m.id], request.query);
      return { models: await withAliases(app.services.models, page), nextCursor };
    },
  );

  app.get(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'A model (by id, name or name@version): tasks with label sets, features, architecture, per-task validation metrics, training time and speed, backend',
        params: ModelRefParamsSchema,
        response: { 200: ModelSchema, ...problems(404) },
      },
    },
    async function getModel(request) {
      const [model] = await withAliases(app.services.models, [await app.services.modelCache.metadataOf(request.params.id)]);
      return model;
    },
  );

  app.delete(
    '/v1/models/:id',
    { schema: { tags: ['models'], summary: 'Delete a model', params: IdParamsSchema, response: { 204: Type.Null(), ...problems(404) } } },
    async function deleteModel(request, reply) {
      await app.services.models.delete(request.params.id);
      app.services.modelCache.changed({ id: request.params.id });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/models/:id/predict',
    {
      bodyLimit: config.PREDICT_MAX_BODY_BYTES,
      schema: {
        tags: ['models'],
        summary: 'Predict every task (or the tasks asked for) for each instance, from one forward pass',
        description:
          'The model is named by id, by name (its latest version), by name@version or by name@alias. `tasks` selects tasks (an unknown one is a 400 naming it). Concurrent requests for one model (and task set) share forward passes ' +
          `(micro-batching); each gets exactly its own rows back. At most ${config.PREDICT_MAX_ROWS} instances and ${config.PREDICT_MAX_BODY_BYTES} bytes per request (413 beyond).`,
        params: ModelRefParamsSchema,
        body: { ...PredictRequestSchema(config.PREDICT_MAX_ROWS), examples: [{ instances: [DIGIT_ZERO] }] },
        response: { 200: PredictResponseSchema, ...problems(400, 404, 413) },
      },
      serializerCompiler: () => serializePredictResponse,
      // Before schema validation, so an oversized request is refused with a 413 at once rather than validated row by row.
      preValidation: async function refuseTooManyInstances(request) {
        const instances = (request.body as { instances?: unknown } | undefined)?.instances;
        if (Array.isArray(instances) && instances.length > config.PREDICT_MAX_ROWS) {
          const detail = `at most ${config.PREDICT_MAX_ROWS} instances per request, got ${instances.length}; send them in several requests`;
          throw new HttpProblem(413, 'Payload Too Large', detail, [{ pointer: '/instances', detail }]);
        }
      },
    },
    async function predict(request) {
      const { model, predictions } = await servePredictions(app.services.modelCache, request.params.id, request.body.instances, { tasks: request.body.tasks });
      const { id, name, version } = model.metadata;
      app.metrics.predictRows.inc({ model: id }, predictions.length); // by the model that answered, however it was named
      return { modelId: id, name, version, predictions };
    },
  );
};

export default modelRoutes;
