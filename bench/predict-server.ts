/**
 * The service as `npm run start:api` runs it, plus three routes that exist only in the benchmark's
 * server instance (never in the public API):
 *
 * - `POST /bench/ceiling/:id/predict`: the same shape as predict (params, body schema and limit,
 *   response schema) answering a canned prediction per instance without any model work: the HTTP
 *   ceiling of this server.
 * - `GET /bench/loop`: the longest event-loop pause since the last call (perf_hooks
 *   monitorEventLoopDelay), then starts over.
 * - `GET /bench/batcher/:id`: forward passes, rows and time the model's batcher has run.
 * - `GET /bench/cpu`: the server process's CPU time so far (process.cpuUsage, µs): what one request
 *   costs the server, a measure far less disturbed by other load on the machine than rows/s.
 *
 * Settings come from the environment (as for the API); BENCH_MODEL_ID names the reference model.
 * Prints one JSON line `{"benchServer": {"port": …}}` when it listens.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp } from '../src/api/app.js';
import { ModelRefParamsSchema, PredictRequestSchema, PredictResponseSchema, serializePredictResponse } from '../src/api/schemas/model.js';
import { servePredictions } from '../src/api/serve-predictions.js';
import { createServices } from '../src/api/start-api.js';
import { composeRoot } from '../src/composition-root.js';
import type { Row } from '../src/mtl/values.js';

const { config, logger, stores } = composeRoot('api');
const modelId = process.env.BENCH_MODEL_ID;
if (!modelId || !config.REDIS_URL) throw new Error('BENCH_MODEL_ID and REDIS_URL must be set');
const services = await createServices({ config, logger, redisUrl: config.REDIS_URL, stores });
const app = await buildApp(services, { loggerInstance: logger });

// One real prediction, made before any load, is the canned answer of the ceiling route.
const metadata = await services.models.get(modelId);
const blank: Row = Object.fromEntries(metadata.preprocessing.features.map((f) => [f.name, f.type === 'numeric' ? 0 : null]));
const canned = (await servePredictions(services.modelCache, modelId, [blank])).predictions[0];

app.post(
  '/bench/ceiling/:id/predict',
  {
    bodyLimit: config.PREDICT_MAX_BODY_BYTES,
    schema: { params: ModelRefParamsSchema, body: PredictRequestSchema(config.PREDICT_MAX_ROWS), response: { 200: PredictResponseSchema } },
    serializerCompiler: () => serializePredictResponse,
  },
  async (request) => ({ modelId: metadata.id, name: metadata.name, version: metadata.version, predictions: request.body.instances.map(() => canned) }),
);

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
app.get('/bench/loop', async () => {
  const pause = { maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6, meanMs: loop.mean / 1e6 };
  loop.reset();
  return pause;
});

app.get('/bench/cpu', async () => process.cpuUsage());

// Counters so far; the longest pass starts over after each read, so each load cell sees its own.
app.get<{ Params: { id: string } }>('/bench/batcher/:id', async (request) => {
  const { stats } = (await services.modelCache.get(request.params.id)).batcher;
  const read = { ...stats };
  stats.longestPassMs = 0;
  return read;
});

await app.listen({ port: config.PORT, host: config.HOST });
console.log(JSON.stringify({ benchServer: { port: (app.server.address() as { port: number }).port } }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
