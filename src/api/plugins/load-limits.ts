import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from '../problem.js';

export interface LoadLimitOptions {
  rateLimitMax: number;
  rateLimitWindowMs: number;
  maxEventLoopDelayMs: number;
}

/** Rate limits are per API key (hashed) or, without one, per client address. */
function rateKey(request: FastifyRequest): string {
  const auth = request.headers.authorization;
  return typeof auth === 'string' ? `key:${createHash('sha256').update(auth).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
}

/** Per-key rate limiting (429) and load shedding when the event loop lags (503); both with Retry-After. */
async function loadLimits(app: FastifyInstance, opts: LoadLimitOptions) {
  await app.register(rateLimit, {
    global: true,
    max: opts.rateLimitMax,
    timeWindow: opts.rateLimitWindowMs,
    keyGenerator: rateKey,
    allowList: (request) => request.url.startsWith('/health'),
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(429, 'Too Many Requests', `rate limit of ${context.max} requests per ${context.after} exceeded; retry later`, undefined, {
        'retry-after': String(Math.ceil(context.ttl / 1000)),
      }),
  });
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    retryAfter: 5,
    pressureHandler: (_request, reply, type, value) => {
      reply.header('retry-after', '5');
      throw new HttpProblem(503, 'Service Unavailable', `the server is overloaded (${type}: ${Math.round(Number(value))}); retry shortly`);
    },
  });
}

export default fp(loadLimits, { name: 'load-limits', dependencies: ['error-handler'] });
