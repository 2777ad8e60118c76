import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TrainingSpecSchema } from '../../mtl/spec.js';
import { resolveSpec } from '../../mtl/spec-resolution.js';
import { SpecError } from '../../mtl/spec-error.js';
import { NotFoundError } from '../../store/store-errors.js';
import { JobAcceptedSchema, JobListSchema, JobSchema } from '../schemas/job.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';

const EXAMPLE_SPEC = {
  name: 'digits-mtl',
  datasetId: '00000000-0000-4000-8000-000000000000',
  tasks: [
    { name: 'digit', column: 'digit', type: 'classification' },
    { name: 'parity', column: 'parity', type: 'binary' },
    { name: 'tags', column: 'tags', type: 'multilabel' },
    { name: 'value', column: 'value', type: 'regression', weight: 0.5 },
  ],
  architecture: { type: 'hard-sharing', sharedLayers: [128, 64], headLayers: [32] },
  training: { epochs: 20, batchSize: 64, learningRate: 0.001, validationSplit: 0.2, seed: 42, earlyStopping: { patience: 5 } },
};

const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Queue a training job',
        description:
          'Checks the spec against the dataset (columns, task types, label counts) before queueing: a spec that cannot work is a 422 naming the field. ' +
          '`features` may be omitted: every column no task uses becomes an input.',
        body: { ...TrainingSpecSchema, examples: [EXAMPLE_SPEC] },
        response: { 202: JobAcceptedSchema, ...problems(400, 422, 503) },
      },
    },
    async (request, reply) => {
      const spec = request.body;
      let dataset;
      try {
        dataset = await app.services.datasets.get(spec.datasetId);
      } catch (err) {
        if (err instanceof NotFoundError) throw new SpecError([{ pointer: '/datasetId', detail: `no dataset with id '${spec.datasetId}'` }]);
        throw err;
      }
      const resolved = resolveSpec(spec, dataset);
      const job = await app.services.trainingQueue.enqueue(resolved);
      request.log.info({ jobId: job.id, datasetId: spec.datasetId, tasks: resolved.tasks.length }, 'training job queued');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send({ id: job.id, state: 'queued' as const, modelId: job.modelId });
    },
  );

  app.get('/v1/jobs', { schema: { tags: ['jobs'], summary: 'List training jobs (newest first)', response: { 200: JobListSchema, ...problems(503) } } }, async () => ({
    jobs: await app.services.trainingQueue.list(),
  }));

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'A training job: state, progress and per-epoch, per-task history',
        params: IdParamsSchema,
        response: { 200: JobSchema, ...problems(404, 503) },
      },
    },
    async (request) => app.services.trainingQueue.get(request.params.id),
  );
};

export default jobRoutes;
