import Fastify, { type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import services, { type AppServices } from './plugins/services.js';
import errorHandler, { frameworkErrorHandler, RETRY_AFTER_S } from './plugins/error-handler.js';
import { HttpProblem } from './problem.js';
import { RequestLog } from './request-log.js';
import docs from './plugins/swagger.js';
import auth from './plugins/auth.js';
import loadLimits from './plugins/load-limits.js';
import metrics from './plugins/metrics.js';
import healthRoutes from './routes/health.js';
import datasetRoutes from './routes/datasets.js';
import jobRoutes from './routes/jobs.js';
import studyRoutes from './routes/studies.js';
import modelRoutes from './routes/models.js';
import modelAliasRoutes from './routes/model-aliases.js';
import modelArchiveRoutes from './routes/model-archive.js';
import inferenceV2Routes from './routes/inference-v2.js';
import dashboard from './plugins/dashboard.js';
import unreadBody from './plugins/unread-body.js';
import jsonBody from './plugins/json-body.js';
import clientErrors, { clientErrorHandler } from './plugins/client-errors.js';
import bodyIdleTimeout from './plugins/body-idle-timeout.js';

/** How long an idle keep-alive connection stays open (Fastify's default, kept with our own server factory). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** The HTTP API: thin routes over the store, the queue and the model cache. */
export async function buildApp(deps: AppServices, options: FastifyServerOptions = {}) {
  const app = Fastify({
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 64 ? req.headers['x-request-id'] : randomUUID()),
    requestIdHeader: false,
    ajv: { customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false } },
    requestTimeout: deps.config.REQUEST_TIMEOUT_MS,
    // One log line per request, at a level by outcome (request-log.ts), not two info lines for each.
    logController: new RequestLog(deps.config.LOG_SLOW_REQUEST_MS),
    // JSON bodies: __proto__ and constructor.prototype keys are refused (400), never merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // The router's own errors (414, 400 for a bad URL) and the shutdown 503 are problems too.
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
    // Requests Node's HTTP parser refuses (431, 400, 408) and HTTP/1.1 without Host are problems too (client-errors.ts).
    clientErrorHandler,
    // Node's own server with Fastify's timeouts (a serverFactory skips them), and requireHostHeader off so the missing Host becomes a problem (client-errors.ts).
    serverFactory: (handler) => {
      const server = createServer({ requireHostHeader: false, requestTimeout: deps.config.REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler);
      return server;
    },
    ...options,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const { config } = deps;
  await app.register(errorHandler);
  // While the server closes, requests still arriving on open keep-alive connections are refused
  // (Fastify's own 503 is not a problem and has no Retry-After): first of all hooks, before auth.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new HttpProblem(503, 'Service Unavailable', 'the server is shutting down; retry shortly', undefined, { 'retry-after': String(RETRY_AFTER_S) });
  });
  await app.register(clientErrors);
  await app.register(jsonBody);
  await app.register(bodyIdleTimeout, { idleMs: config.BODY_IDLE_TIMEOUT_MS });
  await app.register(services, { services: deps });
  await app.register(unreadBody, { maxBytes: config.UNREAD_BODY_MAX_BYTES });
  await app.register(auth, { apiKeys: config.API_KEYS, docsPublic: config.DOCS_PUBLIC, metricsPublic: config.METRICS_PUBLIC });
  await app.register(loadLimits, { rateLimitMax: config.RATE_LIMIT_MAX, rateLimitWindowMs: config.RATE_LIMIT_WINDOW_MS, maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS });
  await app.register(metrics);
  await app.register(docs);
  await app.register(healthRoutes);
  await app.register(datasetRoutes);
  await app.register(jobRoutes);
  await app.register(studyRoutes);
  await app.register(modelRoutes);
  await app.register(modelAliasRoutes);
  await app.register(modelArchiveRoutes);
  await app.register(inferenceV2Routes);
  await app.register(dashboard);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
