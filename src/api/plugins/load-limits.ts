import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from '../problem.js';

export interface LoadLimitOptions {
  rateLimitMax: number;
  rateLimitWindowMs: number;
  maxEventLoopDelayMs: number;
  /** Counters in this Redis, shared by every API replica (under `<nameSpace>`); unset: in this process. */
  redis?: import('ioredis').Redis;
  nameSpace?: string;
}

/** How often the event-loop delay is measured (under-pressure's default). */
const SAMPLE_INTERVAL_MS = 1000;

/** The health checks (and the inference protocol's, /v2/health/*): never rate-limited, never shed (a busy container must not be reported dead). */
export function isHealth(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && (route === '/health' || route.startsWith('/health/') || route.startsWith('/v2/health/'));
}

/**
 * What load shedding lets through: the health checks and the metrics scrape (overload is when
 * metrics are needed most). /metrics is still rate-limited: it may need an admin key, and an
 * unlimited route would let anyone guess keys there; a scraper's few requests a minute stay far
 * below any limit.
 */
export function isExempt(request: FastifyRequest): boolean {
  return isHealth(request) || request.routeOptions.url === '/metrics';
}

/** Rate limits are per API key (the one auth matched) or, without a valid key, per client address. */
function rateKey(request: FastifyRequest): string {
  return request.apiKeyId ? `key:${request.apiKeyId}` : `ip:${request.ip}`;
}

/**
 * Per-key rate limiting (429) and load shedding when the event loop lags (503); both with Retry-After.
 * The limiter is an app-wide onRequest hook (so unknown routes count too) that runs after auth has
 * identified the key and before auth refuses a request (see auth.ts), so failed attempts count.
 */
async function loadLimits(app: FastifyInstance, opts: LoadLimitOptions) {
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    sampleInterval: SAMPLE_INTERVAL_MS,
    pressureHandler: (request, _reply, type, value) => {
      if (isExempt(request)) return;
      // No delay sample in a whole sample interval (the loop was busy throughout) reads as Infinity:
      // evidence of a stall of about that interval, not of one beyond a larger configured limit.
      if (type === 'eventLoopDelay' && Number(value) === Infinity && opts.maxEventLoopDelayMs > SAMPLE_INTERVAL_MS) return;
      throw new HttpProblem(503, 'Service Unavailable', `the server is overloaded (${type}: ${Math.round(Number(value))}); retry shortly`, undefined, { 'retry-after': '5' });
    },
  });
  await app.register(rateLimit, {
    global: false,
    max: opts.rateLimitMax,
    timeWindow: opts.rateLimitWindowMs,
    keyGenerator: rateKey,
    ...(opts.redis ? { redis: opts.redis, nameSpace: opts.nameSpace, skipOnError: true } : {}),
    allowList: isHealth,
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(429, 'Too Many Requests', `rate limit of ${context.max} requests per ${context.after} exceeded; retry later`, undefined, {
        'retry-after': String(Math.ceil(context.ttl / 1000)),
      }),
  });
  app.addHook('onRequest', app.rateLimit());
}

export default fp(loadLimits, { name: 'load-limits', dependencies: ['error-handler', 'auth'] });
