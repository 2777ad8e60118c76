import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StudyRequestSchema, resolveStudy } from '../../mtl/study-spec.js';
import { SpecError } from '../../mtl/spec-error.js';
import { newId } from '../../shared/ids.js';
import { NotFoundError } from '../../shared/not-found-error.js';
import type { StudyRecord } from '../../queue/study-types.js';
import { StudyAcceptedSchema, StudyListSchema, StudySchema } from '../schemas/study.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';
import { HttpProblem } from '../problem.js';
import type { AppServices } from '../plugins/services.js';
import { rungSizes } from '../../mtl/study-search.js';

const EXAMPLE = {
  name: 'digits-study',
  datasetId: '00000000-0000-4000-8000-000000000000',
  tasks: [
    { name: 'digit', type: 'classification' },
    { name: 'parity', type: 'binary' },
    { name: 'value', type: 'regression' },
  ],
  budget: { trials: 12, maxMinutes: 10 },
  training: { validationSplit: 0.2, seed: 42 },
};

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** The study as users see it: the record, with a cancel asked for but not yet seen by a driver shown as cancelled. */
function viewOf(record: StudyRecord, cancelRequested: boolean) {
  const state = cancelRequested && record.state === 'queued' ? 'cancelled' : record.state;
  return { ...record, state, tasks: record.base.tasks.map((t) => ({ name: t.name, type: t.type })), search: record.search as unknown as Record<string, unknown> };
}

async function cancelRequested(services: AppServices, id: string): Promise<boolean> {
  const job = await services.studyQueue.queue.getJob(id).catch(() => undefined);
  return Boolean(job?.data.cancelRequestedAt);
}

const studyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });

  app.post(
    '/v1/studies',
    {
      schema: {
        tags: ['studies'],
        summary: 'Start a study: search for the model that serves every task best',
        description:
          'Checks tasks, features and the search space against the dataset and the engine before queueing (422 naming the field). ' +
          'A reference job (hard sharing with task affinity and per-task references) runs first; then `budget.trials` configurations, sampled with the seed, are trained as ordinary jobs in rungs of successive halving. ' +
          'The best (validation split only) is saved as a model named after the study. See docs/studies.md.',
        body: { ...StudyRequestSchema, examples: [EXAMPLE] },
        response: { 202: StudyAcceptedSchema, ...problems(400, 422, 503) },
      },
    },
    async function createStudy(request, reply) {
      const body = request.body;
      const datasetOf = async () => {
        try {
          return await app.services.datasets.get(body.datasetId);
        } catch (err) {
          if (err instanceof NotFoundError) throw new SpecError([{ pointer: '/datasetId', detail: `no dataset with id '${body.datasetId}'` }]);
          throw err;
        }
      };
      const resolved = resolveStudy(body, await datasetOf());
      const id = newId();
      const now = new Date().toISOString();
      const record: StudyRecord = {
        id,
        name: resolved.name,
        datasetId: body.datasetId,
        state: 'queued',
        error: null,
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        base: resolved.base,
        budget: resolved.budget,
        search: resolved.search,
        rungs: resolved.rungs,
        eta: resolved.search.eta,
        progress: { done: 0, total: 1 + rungSizes(resolved.budget.trials, resolved.rungs.length, resolved.search.eta).reduce((a, b) => a + b, 0) },
        referenceJob: null,
        references: {},
        affinity: null,
        groupings: [],
        trials: [],
        best: null,
        pareto: [],
        grouping: null,
      };
      // Checked again and queued as one step: no API process can delete the dataset in between.
      await app.services.trainingQueue.claimDataset(body.datasetId, async () => {
        await datasetOf();
        await app.services.studies.save(record);
        await app.services.studyQueue.enqueue(id);
      });
      request.log.info({ studyId: id, datasetId: body.datasetId, trials: resolved.budget.trials }, 'study queued');
      return reply.code(202).header('location', `/v1/studies/${id}`).send({ id, state: 'queued' as const });
    },
  );

  app.get('/v1/studies', { schema: { tags: ['studies'], summary: 'List studies (newest first)', response: { 200: StudyListSchema, ...problems(503) } } }, async function listStudies() {
    const records = await app.services.studies.list();
    return {
      studies: await Promise.all(
        records.map(async (r) => {
          const v = viewOf(r, await cancelRequested(app.services, r.id));
          return { id: v.id, name: v.name, datasetId: v.datasetId, state: v.state, progress: v.progress, createdAt: v.createdAt, bestTrialId: v.best?.trialId ?? null, modelId: v.best?.modelId ?? null };
        }),
      ),
    };
  });

  app.get(
    '/v1/studies/:id',
    { schema: { tags: ['studies'], summary: 'A study: trials, references, best model, Pareto front, grouping', params: IdParamsSchema, response: { 200: StudySchema, ...problems(404, 503) } } },
    async function getStudy(request) {
      const record = await app.services.studies.get(request.params.id);
      return viewOf(record, await cancelRequested(app.services, record.id));
    },
  );

  app.post(
    '/v1/studies/:id/cancel',
    {
      schema: {
        tags: ['studies'],
        summary: 'Cancel a study and every trial',
        description: 'Queued trials never start; running ones stop within a training step. A finished study is a 409.',
        params: IdParamsSchema,
        response: { 202: StudySchema, ...problems(404, 409, 503) },
      },
    },
    async function cancelStudy(request, reply) {
      const record = await app.services.studies.get(request.params.id);
      if (TERMINAL.has(record.state)) throw new HttpProblem(409, 'Conflict', `study '${record.id}' is already ${record.state}`);
      await app.services.studyQueue.requestCancel(record.id);
      // The driver cancels the trials too; doing it here as well stops them even while no driver runs.
      const jobs = [record.referenceJob?.jobId, ...record.trials.flatMap((t) => t.runs.map((r) => r.jobId))].filter((j): j is string => Boolean(j));
      await Promise.all(jobs.map((j) => app.services.trainingQueue.cancel(j).catch(() => undefined)));
      return reply.code(202).send(viewOf(await app.services.studies.get(record.id), true));
    },
  );

  app.get(
    '/v1/studies/:id/events',
    {
      schema: {
        tags: ['studies'],
        summary: 'Live study progress as Server-Sent Events',
        description: 'text/event-stream: a `study` event (the whole study, as GET /v1/studies/:id) whenever it changes, then `end` when it has finished.',
        params: IdParamsSchema,
        response: { 200: { type: 'string', description: 'text/event-stream' }, ...problems(404, 503) },
      },
    },
    async function watchStudy(request, reply) {
      await streamStudy(app.services, request, reply, request.params.id, streams);
    },
  );
};

async function streamStudy(services: AppServices, request: FastifyRequest, reply: FastifyReply, id: string, open: Set<() => void>): Promise<void> {
  await services.studies.get(id); // 404 before the stream starts
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write('retry: 2000\n\n');
  let closed = false;
  let sent = '';
  let seq = 0;
  const tick = async () => {
    if (closed) return;
    try {
      const record = await services.studies.get(id);
      const view = viewOf(record, await cancelRequested(services, id));
      const text = JSON.stringify(view);
      if (text !== sent && !closed) {
        sent = text;
        raw.write(`id: ${++seq}\nevent: study\ndata: ${text}\n\n`);
      }
      if (TERMINAL.has(view.state)) {
        if (!closed) raw.write(`event: end\ndata: ${JSON.stringify({ state: view.state, modelId: view.best?.modelId ?? null, error: view.error })}\n\n`);
        close();
      }
    } catch (err) {
      request.log.debug({ err: (err as Error).message }, 'study event stream: read failed, will retry');
    }
  };
  const poll = setInterval(() => void tick(), 1000);
  const heartbeat = setInterval(() => !closed && raw.write(': keep-alive\n\n'), 15000);
  open.add(close);
  function close() {
    if (closed) return;
    closed = true;
    open.delete(close);
    clearInterval(poll);
    clearInterval(heartbeat);
    raw.end();
  }
  request.raw.on('close', close);
  await tick();
}

export default studyRoutes;
