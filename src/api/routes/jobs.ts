import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TrainingSpecSchema } from '../../mtl/spec.js';
import { resolveSpec } from '../../mtl/spec-resolution.js';
import { estimateTrainingMemory } from '../../mtl/memory-estimate.js';
import { SpecError } from '../../mtl/spec-error.js';
import { NotFoundError } from '../../shared/not-found-error.js';
import { JobAcceptedSchema, JobListSchema, JobSchema } from '../schemas/job.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';
import { PageQuerySchema, paginate } from '../pagination.js';
import { Type } from '@sinclair/typebox';
import { streamJobEvents } from '../job-event-stream.js';

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
  // Live streams never end by themselves while a job runs: end them when the server closes, so a
  // SIGTERM drains the API instead of waiting for every watcher's job to finish.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });

  /** The dataset a spec names; a 422 naming /datasetId when there is none. */
  const datasetOf = async (id: string) => {
    try {
      return await app.services.datasets.get(id);
    } catch (err) {
      if (err instanceof NotFoundError) throw new SpecError([{ pointer: '/datasetId', detail: `no dataset with id '${id}'` }]);
      throw err;
    }
  };

  app.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Queue a training job',
        description:
          'Checks the spec against the dataset (columns, task types, label counts) before queueing: a spec that cannot work is a 422 naming the field. ' +
          '`features` may be omitted: every column no task uses becomes an input.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Retry-safe submission: the same key and body return the same job; the same key with another body is a 422.' })),
        }),
        body: { ...TrainingSpecSchema, examples: [EXAMPLE_SPEC] },
        response: { 202: JobAcceptedSchema, ...problems(400, 422, 503) },
      },
    },
    async function createJob(request, reply) {
      const spec = request.body;
      const dataset = await datasetOf(spec.datasetId);
      const resolved = resolveSpec(spec, dataset);
      const memory = estimateTrainingMemory(resolved, dataset.columns, dataset.rows);
      const limitMb = app.services.config.WORKER_MEMORY_MB;
      if (memory.bytes > limitMb * 1024 * 1024) {
        throw new SpecError([
          {
            pointer: '/architecture',
            detail: `training would need about ${Math.ceil(memory.bytes / 1024 / 1024)} MB (${memory.parameters} parameters, ${dataset.rows} rows × ${memory.inputSize} inputs), more than a worker's ${limitMb} MB (WORKER_MEMORY_MB): use smaller layers, fewer rows or features`,
          },
        ]);
      }
      const key = request.headers['idempotency-key'];
      // Checked again and queued as one step: no API process can delete the dataset in between.
      const job = await app.services.trainingQueue.claimDataset(spec.datasetId, async () => {
        await datasetOf(spec.datasetId);
        return app.services.trainingQueue.enqueue(resolved, key ? { key, body: spec } : undefined);
      });
      request.log.info({ jobId: job.id, datasetId: spec.datasetId, tasks: resolved.tasks.length, replayed: job.replayed }, 'training job queued');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send({ id: job.id, state: 'queued' as const, modelId: job.modelId });
    },
  );

  app.get(
    '/v1/jobs',
    { schema: { tags: ['jobs'], summary: 'List training jobs (newest first; in pages: limit, cursor)', querystring: PageQuerySchema, response: { 200: JobListSchema, ...problems(400, 503) } } },
    async function listJobs(request) {
      let nextCursor: string | undefined;
      const jobs = await app.services.trainingQueue.listSelected((all) => {
        const result = paginate(all, (j) => [j.createdAt, j.id], request.query);
        nextCursor = result.nextCursor;
        return result.page;
      });
      return { jobs, nextCursor };
    },
  );

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
    async function getJob(request) {
      return app.services.trainingQueue.get(request.params.id);
    },
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        description: 'A queued job never starts; a running one stops within one training step on whichever worker runs it, frees its memory and ends `cancelled`. A finished job is a 409.',
        params: IdParamsSchema,
        response: { 202: JobSchema, ...problems(404, 409, 503) },
      },
    },
    async function cancelJob(request, reply) {
      return reply.code(202).send(await app.services.trainingQueue.cancel(request.params.id));
    },
  );

  app.get(
    '/v1/jobs/:id/logs',
    {
      schema: {
        tags: ['jobs'],
        summary: "The worker's log lines for a job",
        description: 'Data loading, preprocessing summary, backend, every epoch, warnings such as a task with very few labels, resumes and stops.',
        params: IdParamsSchema,
        response: { 200: Type.Object({ logs: Type.Array(Type.String()), count: Type.Integer() }), ...problems(404, 503) },
      },
    },
    async function getJobLogs(request) {
      return app.services.trainingQueue.logs(request.params.id);
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Live progress as Server-Sent Events',
        description:
          'text/event-stream: `state` events (state, progress, modelId, error), one `epoch` event per finished epoch (id = epoch; per-task losses/metrics and loss weights), then `end` when the job ends. ' +
          'Reconnect with the Last-Event-ID header (or ?lastEventId=) to get only later epochs.',
        params: IdParamsSchema,
        querystring: Type.Object({ lastEventId: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })) }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{0,9}$' })) }),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...problems(404, 503) },
      },
    },
    async function watchJob(request, reply) {
      const last = Number(request.headers['last-event-id'] || request.query.lastEventId || 0);
      await streamJobEvents(app.services, request, reply, request.params.id, last, streams);
    },
  );
};

export default jobRoutes;
