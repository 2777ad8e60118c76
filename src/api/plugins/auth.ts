import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from '../problem.js';

export type Role = 'admin' | 'predict';
type Need = 'public' | 'any-key' | Role;

interface ApiKey {
  digest: Buffer;
  role: Role;
}

/** Parses `API_KEYS="<key>:admin,<key>:predict"`; throws on a malformed entry (never echoing the key). */
export function parseApiKeys(spec: string | undefined): ApiKey[] {
  if (!spec || spec.trim() === '') return [];
  return spec.split(',').map((entry, i) => {
    const at = entry.lastIndexOf(':');
    const key = entry.slice(0, at).trim();
    const role = entry.slice(at + 1).trim();
    if (at <= 0 || key.length < 8 || (role !== 'admin' && role !== 'predict'))
      throw new Error(`API_KEYS entry ${i + 1} must be "<key of 8+ characters>:admin" or "<key>:predict"`);
    return { digest: digest(key), role };
  });
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Compares against every configured key in constant time (no early exit that would leak which matched). */
function findKey(keys: ApiKey[], presented: string): ApiKey | undefined {
  const d = digest(presented);
  let found: ApiKey | undefined;
  for (const k of keys) if (timingSafeEqual(k.digest, d)) found = k;
  return found;
}

/** What a route needs: /health (and /v2/health), the UI (and /docs, /metrics when configured) are open; reading models and predicting (/v1 and /v2) take a predict or admin key; the rest an admin key. */
export function requiredRole(method: string, route: string | undefined, opts: { docsPublic: boolean; metricsPublic: boolean }): Need {
  if (!route) return 'any-key';
  if (route.startsWith('/health') || route.startsWith('/v2/health/')) return 'public';
  if (route === '/' || route.startsWith('/ui')) return 'public';
  if (route.startsWith('/docs')) return opts.docsPublic ? 'public' : 'any-key';
  if (route === '/metrics') return opts.metricsPublic ? 'public' : 'admin';
  if (method === 'POST' && route === '/v1/models/:id/predict') return 'predict';
  if (method === 'GET' && (route === '/v1/models' || route === '/v1/models/:id' || route === '/v1/models/:id/aliases')) return 'predict';
  // The Open Inference Protocol: metadata, model readiness and inference are the predict role's.
  if (route === '/v2' || route.startsWith('/v2/')) return 'predict';
  return 'admin';
}

/**
 * The key of `Authorization: Bearer <key>`, the only place a key is taken from. Never the query
 * string: URLs end up in logs, proxies and browser history (the dashboard reads its live job events
 * with fetch, which sends the header, so it needs no ?access_token=).
 */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1].trim() : undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Which configured API key the request came with (hex of the start of its digest, never the key);
     * undefined without a valid key or when auth is off. Rate limits are keyed on it.
     */
    apiKeyId?: string;
  }
}

/**
 * API keys as `Authorization: Bearer <key>`: 401 without a valid key, 403 when the key's role may
 * not use the route. With no keys configured the API is open, and says so loudly at start.
 *
 * The key is identified in onRequest (setting `request.apiKeyId`) but a refusal is only thrown in
 * preParsing, so the rate limiter (an onRequest hook registered after this one) counts failed
 * attempts too: guessing keys ends in 429 like any other flood.
 */
async function auth(app: FastifyInstance, opts: { apiKeys?: string; docsPublic: boolean; metricsPublic: boolean }) {
  const keys = parseApiKeys(opts.apiKeys);
  if (keys.length === 0) {
    app.log.warn('API_KEYS is not set: the API is OPEN to anyone who can reach it. Set API_KEYS="<key>:admin,<key>:predict" before exposing it on a network.');
    return;
  }
  app.log.info({ keys: keys.length }, 'API key authentication on');
  const refusals = new WeakMap<FastifyRequest, HttpProblem>();
  app.addHook('onRequest', async (request) => {
    const presented = presentedKey(request);
    const key = presented === undefined ? undefined : findKey(keys, presented);
    if (key) request.apiKeyId = key.digest.subarray(0, 8).toString('hex');
    const need = requiredRole(request.method, request.routeOptions.url, opts);
    if (need === 'public') return;
    if (!key) {
      refusals.set(
        request,
        new HttpProblem(
          401,
          'Unauthorized',
          presented === undefined ? 'send an API key as "Authorization: Bearer <key>"' : 'the API key is not valid',
          [{ pointer: '/headers/authorization', detail: presented === undefined ? 'missing' : 'not a valid key' }],
          { 'www-authenticate': 'Bearer realm="mtl"' },
        ),
      );
    } else if (need === 'admin' && key.role !== 'admin') {
      refusals.set(request, new HttpProblem(403, 'Forbidden', `a ${key.role} key may not ${request.method} ${request.routeOptions.url}; it needs an admin key`));
    }
  });
  app.addHook('preParsing', async (request) => {
    const refusal = refusals.get(request);
    if (refusal) throw refusal;
  });
}

export default fp(auth, { name: 'auth', dependencies: ['error-handler'] });
