import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TrainingJobProgress } from '../../queue/job-types.js';

/** The API's counters that routes update (the rest are observed here). */
export interface ApiMetrics {
  registry: Registry;
  /** Rows predicted, labelled with the id of the model that answered (a name and name@version count under it). */
  predictRows: Counter<'model'>;
  predictBatchRows: Histogram;
  modelCache: Counter<'result'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/**
 * Prometheus metrics at GET /metrics: HTTP latency per route, queue depth per state, job outcomes
 * and durations, training samples/s, predict rows and batch sizes, model-cache hits, and the
 * process's own metrics. One registry per app, so tests can build many.
 */
async function metrics(app: FastifyInstance) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mtl_api_' });
  const http = new Histogram({
    name: 'mtl_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const { trainingQueue, jobEvents } = app.services;
  new Gauge({
    name: 'mtl_queue_jobs',
    help: 'Training jobs in the queue by BullMQ state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await trainingQueue.queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      } catch {
        /* Redis away: keep the last values */
      }
    },
  });
  const jobsFinished = new Counter({ name: 'mtl_jobs_finished_total', help: 'Training jobs finished, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const jobDuration = new Histogram({
    name: 'mtl_job_duration_seconds',
    help: 'Wall-clock time of finished training jobs, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers: [registry],
  });
  const samplesPerSec = new Gauge({ name: 'mtl_training_samples_per_second', help: 'Training speed of the last finished epoch of any job', registers: [registry] });
  const api: ApiMetrics = {
    registry,
    predictRows: new Counter({ name: 'mtl_predict_rows_total', help: 'Rows predicted, by model', labelNames: ['model'] as const, registers: [registry] }),
    predictBatchRows: new Histogram({ name: 'mtl_predict_batch_rows', help: 'Rows per forward pass (micro-batches)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers: [registry] }),
    modelCache: new Counter({ name: 'mtl_model_cache_requests_total', help: 'Model cache lookups by result (hit, miss)', labelNames: ['result'] as const, registers: [registry] }),
  };
  app.decorate('metrics', api);
  app.services.modelCache.observe({
    onLookup: (hit) => api.modelCache.inc({ result: hit ? 'hit' : 'miss' }),
    onPass: (rows) => api.predictBatchRows.observe(rows),
  });

  /**
   * Every replica hears every job finish: one of them (the first to claim the job's finish in
   * Redis) counts it, so the sum of the replicas' counters is the number of jobs, not N times it.
   */
  const countOnce = async (jobId: string): Promise<boolean> => {
    const client = (await trainingQueue.queue.client) as unknown as import('ioredis').Redis;
    const finishedOn = (await client.hget(`${app.services.config.QUEUE_PREFIX}:${trainingQueue.queue.name}:${jobId}`, 'finishedOn')) ?? '';
    return (await client.set(`${app.services.config.QUEUE_PREFIX}:metrics-counted:${jobId}:${finishedOn}`, '1', 'EX', 7 * 24 * 3600, 'NX')) === 'OK';
  };
  // (scripts/openapi.ts builds the app without Redis, hence without job events)
  const unsubscribe = jobEvents?.onAny((jobId, event, data) => {
    if (event === 'progress' && data && typeof data === 'object') {
      const last = (data as TrainingJobProgress).history?.at(-1);
      if (last) samplesPerSec.set(last.samplesPerSec);
    }
    if (event === 'completed' || event === 'failed') {
      void countOnce(jobId).then(
        (mine) => (mine ? trainingQueue.get(jobId) : undefined),
        () => trainingQueue.get(jobId), // Redis away: counted here rather than not at all
      ).then(
        (job) => {
          if (!job) return;
          jobsFinished.inc({ outcome: job.state });
          if (job.startedAt && job.finishedAt) jobDuration.observe({ outcome: job.state }, (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000);
        },
        () => undefined,
      );
    }
  });
  if (unsubscribe) app.addHook('onClose', async () => unsubscribe());

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    http.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', response: { 200: { type: 'string' } } } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}

export default fp(metrics, { name: 'metrics', dependencies: ['services'] });
