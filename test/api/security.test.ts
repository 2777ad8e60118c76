import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import fc from 'fast-check';
import { buildApp } from '../../src/api/app.js';
import { createServices } from '../../src/api/start-api.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, testApiRoot, type TestApp } from '../helpers/test-app.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { exportArtifacts } from '../../src/mtl/serialization.js';
import { modelMetadataOf } from '../../src/store/model-metadata.js';
import { newId } from '../../src/shared/ids.js';

const ADMIN = 'admin-key-0123456789';
const PREDICT = 'predict-key-0123456789';
const UUID = '00000000-0000-4000-8000-000000000000';
/** How a client might spell a key's query parameter: percent-encoded, other cases, array syntax, other names. */
const QUERY_KEY_SPELLINGS = ['access_token', 'access%5Ftoken', 'access%5ftoken', 'ACCESS_TOKEN', 'Access_Token', 'access_token[]', 'access%5Ftoken%5B%5D', '%61ccess_token', 'access_token%00', 'accessToken', 'access-token', 'api_key', 'apiKey', 'key', 'token', 'auth', 'authorization', 'Bearer'];

interface Route {
  method: string;
  path: string;
}

/** Every documented route, with {id} filled in. */
async function routesOf(t: TestApp): Promise<Route[]> {
  const doc = (await t.app.inject({ url: '/docs/json', headers: { authorization: `Bearer ${ADMIN}` } })).json();
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, UUID) })),
  );
}

describe('authentication and roles', () => {
  let t: TestApp;
  const logs: string[] = [];
  before(async () => {
    t = await createTestApp('auth', { API_KEYS: `${ADMIN}:admin,${PREDICT}:predict` });
  });
  after(async () => t.close());

  const call = (r: Route, key?: string) =>
    t.app.inject({ method: r.method as 'GET', url: r.path, headers: key ? { authorization: `Bearer ${key}` } : {}, payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });

  it('every route: missing and wrong keys are 401, a predict key on admin routes 403, the right key passes', async () => {
    const routes = await routesOf(t);
    assert.ok(routes.length >= 14, `${routes.length} routes`);
    const open = (r: Route) => r.path.startsWith('/health') || r.path.startsWith('/v2/health/');
    const predictAllowed = (r: Route) =>
      (r.method === 'GET' && /^\/v1\/models(\/[^/]+)?(\/aliases)?$/.test(r.path)) || (r.method === 'POST' && r.path.endsWith('/predict')) || r.path === '/v2' || r.path.startsWith('/v2/');
    for (const r of routes) {
      const none = await call(r);
      const wrong = await call(r, 'not-a-key-at-all');
      const asPredict = await call(r, PREDICT);
      const asAdmin = await call(r, ADMIN);
      const label = `${r.method} ${r.path}`;
      if (open(r)) {
        assert.notEqual(none.statusCode, 401, label);
        continue;
      }
      assert.equal(none.statusCode, 401, `${label} without a key`);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="mtl"');
      if (r.path.startsWith('/v2')) {
        assert.deepEqual(Object.keys(none.json()), ['error'], `${label}: the inference protocol's error object`);
        assert.match(none.json().error, /API key/);
      }
      else assert.equal(none.json().errors[0].pointer, '/headers/authorization');
      assert.equal(wrong.statusCode, 401, `${label} with a wrong key`);
      if (predictAllowed(r)) assert.ok(![401, 403].includes(asPredict.statusCode), `${label} with a predict key: ${asPredict.statusCode}`);
      else assert.equal(asPredict.statusCode, 403, `${label} with a predict key`);
      assert.ok(![401, 403].includes(asAdmin.statusCode), `${label} with an admin key: ${asAdmin.statusCode}`);
    }
  });

  it('takes no API key in the query string, however the parameter is spelled (the dashboard streams events with a header)', async () => {
    for (const spelling of QUERY_KEY_SPELLINGS) {
      for (const path of [`/v1/jobs/${UUID}/events`, `/v1/jobs/${UUID}`, '/v1/datasets']) {
        const res = await t.app.inject({ url: `${path}?${spelling}=${ADMIN}` });
        assert.equal(res.statusCode, 401, `${path}?${spelling}=`);
        assert.ok(!res.body.includes(ADMIN), 'the key is not echoed');
      }
    }
    assert.equal((await t.app.inject({ url: `/v1/jobs/${UUID}/events`, headers: { authorization: `Bearer ${ADMIN}` } })).statusCode, 404, 'the header still works');
  });

  it('never logs a key, not even one sent in the query string under any spelling', async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) });
    const redis = await testRedis();
    const dir = mkdtempSync(join(tmpdir(), 'mtl-logs-'));
    const config = loadConfig({ DATA_DIR: dir, QUEUE_PREFIX: uniquePrefix('logs'), API_KEYS: `${ADMIN}:admin`, LOG_LEVEL: 'debug' });
    const logger = pino({ level: 'debug', ...(await import('../../src/logger.js')).loggerOptions('debug', 'api') , transport: undefined }, sink);
    const services = await createServices(testApiRoot(config, redis.url, logger));
    const app = await buildApp(services, { loggerInstance: logger });
    await app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer ${ADMIN}` } });
    await app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer wrong-${ADMIN}` } });
    for (const spelling of QUERY_KEY_SPELLINGS) {
      await app.inject({ url: `/v1/jobs/${UUID}/events?${spelling}=${ADMIN}` });
      await app.inject({ url: `/v1/datasets?name=x&${spelling}=${ADMIN}&b=1`, headers: { authorization: `Bearer ${ADMIN}` } });
      await app.inject({ url: `/no/such/route?${spelling}=${ADMIN}` });
    }
    await app.close();
    await obliterateTrainingQueue(redis.url, config.QUEUE_PREFIX);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    const text = logs.join('');
    assert.ok(text.includes('request completed') || text.includes('incoming request'), 'requests were logged');
    assert.ok(text.includes('/v1/datasets?name=x&'), 'query strings are still logged');
    const leaks = text.split('\n').filter((l) => l.includes(ADMIN));
    assert.deepEqual(leaks, [], 'no key in the logs');
  });
});

describe('limits, rate limiting and overload', () => {
  it('rate-limits per key with 429, Retry-After and a problem body; health stays open', async () => {
    const t = await createTestApp('ratelimit', { RATE_LIMIT_MAX: '5' });
    try {
      const codes = [];
      for (let i = 0; i < 7; i++) codes.push((await t.app.inject({ url: '/v1/datasets' })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429]);
      const res = await t.app.inject({ url: '/v1/datasets' });
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.ok(Number(res.headers['retry-after']) > 0);
      assert.equal(res.json().status, 429);
      assert.equal((await t.app.inject({ url: '/health/live' })).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  it('one bucket per API key, however its Authorization header is spelled', async () => {
    const t = await createTestApp('ratelimit-spelling', { API_KEYS: `${ADMIN}:admin,${PREDICT}:predict`, RATE_LIMIT_MAX: '4' });
    try {
      const spellings = [`Bearer ${ADMIN}`, `bearer ${ADMIN}`, `Bearer  ${ADMIN}`, `BEARER ${ADMIN}`, `Bearer ${ADMIN} `, `bEaReR   ${ADMIN}`];
      const codes = [];
      for (const authorization of spellings) codes.push((await t.app.inject({ url: '/v1/datasets', headers: { authorization } })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 200, 429, 429]);
      // another key has its own bucket
      assert.equal((await t.app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${PREDICT}` } })).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  it('failed auth attempts count: guessing keys from one client ends in 429, on known and unknown routes', async () => {
    const t = await createTestApp('ratelimit-guess', { API_KEYS: `${ADMIN}:admin,${PREDICT}:predict`, RATE_LIMIT_MAX: '4' });
    try {
      const codes = [];
      for (let i = 0; i < 6; i++) codes.push((await t.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer guess-${i}-0123456789` } })).statusCode);
      assert.deepEqual(codes, [401, 401, 401, 401, 429, 429]);
      const limited = await t.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer guess-x-0123456789` } });
      assert.equal(limited.json().status, 429);
      assert.equal(limited.headers['www-authenticate'], undefined);
      assert.equal((await t.app.inject({ url: '/v1/datasets' })).statusCode, 429, 'no key: the same client bucket');
      assert.equal((await t.app.inject({ url: '/no/such/route', headers: { authorization: 'Bearer guess-y-0123456789' } })).statusCode, 429);
      assert.equal((await t.app.inject({ url: '/health/live', headers: { authorization: 'Bearer guess-z-0123456789' } })).statusCode, 200);
      // a valid key is not locked out by someone else's guessing from the same address
      assert.equal((await t.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer ${ADMIN}` } })).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  it('with API_KEYS unset, invented Authorization headers do not get fresh buckets', async () => {
    const t = await createTestApp('ratelimit-open', { RATE_LIMIT_MAX: '3' });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await t.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer invented-${i}` } })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    } finally {
      await t.close();
    }
  });

  it('sheds load with 503 and Retry-After when the event loop lags', async () => {
    const t = await createTestApp('pressure', { MAX_EVENT_LOOP_DELAY_MS: '50' });
    try {
      // A loop that keeps stalling (150 ms at a time, for 2.5 s), as under a burst of heavy requests.
      const end = Date.now() + 2500;
      while (Date.now() < end) {
        const until = Date.now() + 150;
        while (Date.now() < until);
        await new Promise((r) => setImmediate(r));
      }
      const res = await t.app.inject({ url: '/v1/datasets' });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json().title, 'Service Unavailable');
      // health checks and the metrics scrape still answer (a busy container is not a dead one)
      const live = await t.app.inject({ url: '/health/live' });
      assert.equal(live.statusCode, 200, live.body);
      const ready = await t.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.equal(ready.json().status, 'ready');
      const metrics = await t.app.inject({ url: '/metrics' });
      assert.equal(metrics.statusCode, 200, metrics.body.slice(0, 300));
      // ...while the load is still being shed
      assert.equal((await t.app.inject({ url: '/v1/datasets' })).statusCode, 503);
    } finally {
      await t.close();
    }
  });

  it('refuses datasets over the row and column limits, and specs that would not fit in a worker', async () => {
    const t = await createTestApp('limits', { DATASET_MAX_ROWS: '10', DATASET_MAX_COLUMNS: '3', WORKER_MEMORY_MB: '64' });
    try {
      const upload = (csv: string) => t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv });
      const rows = await upload('a,b\n' + '1,2\n'.repeat(11));
      assert.equal(rows.statusCode, 413);
      assert.match(rows.json().detail, /DATASET_MAX_ROWS/);
      const cols = await upload('a,b,c,d\n1,2,3,4\n');
      assert.equal(cols.statusCode, 400);
      assert.match(cols.json().detail, /DATASET_MAX_COLUMNS/);
      const ok = await upload('a,b,y\n' + '1,2,yes\n3,4,no\n'.repeat(4));
      assert.equal(ok.statusCode, 201);
      const huge = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: ok.json().id, tasks: [{ name: 'y', type: 'binary' }], architecture: { sharedLayers: [4096, 4096, 4096] } } });
      assert.equal(huge.statusCode, 422, huge.body);
      assert.equal(huge.json().errors[0].pointer, '/architecture');
      assert.match(huge.json().errors[0].detail, /about \d+ MB/);
    } finally {
      await t.close();
    }
  });
});

describe('training memory', () => {
  it('refuses, before queueing, a spec whose peak memory would exceed WORKER_MEMORY_MB: 8 × 4096 units with two tasks need about 6.7 GiB', async () => {
    const t = await createTestApp('memory', { WORKER_MEMORY_MB: '6144' });
    try {
      const csv = 'x,y,colour,animal,tags,weight\n1.5,0.3,red,cat,small|pet,4.1\n2.1,1.7,blue,dog,pet,12.5\n0.4,2.2,red,cat,small,3.8\n3.3,0.9,green,dog,pet|loud,20.3\n2.8,1.1,blue,dog,loud,15\n0.9,2.9,green,cat,small|pet,4.6\n';
      const datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json().id;
      const spec = (tasks: object[]) => ({ datasetId, tasks, architecture: { sharedLayers: Array.from({ length: 8 }, () => 4096) } });
      const huge = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec([{ name: 'animal', type: 'classification' }, { name: 'weight', type: 'regression' }]) });
      assert.equal(huge.statusCode, 422, huge.body);
      assert.equal(huge.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(huge.json().errors[0].pointer, '/architecture');
      assert.match(huge.json().errors[0].detail, /about \d+ MB .*WORKER_MEMORY_MB/);
      assert.equal((await t.app.inject({ url: '/v1/jobs' })).json().jobs.length, 0, 'nothing queued');
      // One task takes no per-task gradients: about 3.8 GiB, which fits.
      const fits = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec([{ name: 'animal', type: 'classification' }]) });
      assert.equal(fits.statusCode, 202, fits.body);
    } finally {
      await t.close();
    }
  });
});

describe('hostile input (property-based)', () => {
  let t: TestApp;
  let datasetId: string;
  let modelId: string;
  let snapshot: string;
  let modelSnapshot: string;
  const dataDir = () => t.config.DATA_DIR;
  const listing = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listing(join(dir, e.name)).map((p) => `${e.name}/${p}`) : [`${e.name}:${statSync(join(dir, e.name)).size}`]));
  const outside = () => readdirSync(dirname(dataDir())).filter((f) => !f.startsWith('mtl-')).sort().join('\n');

  before(async () => {
    t = await createTestApp('fuzz', { RATE_LIMIT_MAX: '1000000' });
    datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'x,colour,y\n1,red,yes\n2,blue,no\n3,red,yes\n4,blue,no\n' })).json().id;
    snapshot = readFileSync(join(dataDir(), 'datasets', datasetId, 'rows.ndjson'), 'utf8');
    // a real (tiny) model, so predict is fuzzed through the engine, not only its 404
    const { rows, info } = await t.services.datasets.readRows(datasetId);
    const spec = resolveSpec({ datasetId, tasks: [{ name: 'y', type: 'binary' }], architecture: { sharedLayers: [4] }, training: { epochs: 1, validationSplit: 0 } }, info);
    const trained = await trainOnRows(spec, rows);
    modelId = newId();
    await t.services.models.save(modelMetadataOf({ id: modelId, jobId: newId(), spec, trained, backend: 'test' }), await exportArtifacts(trained.model.serving));
    disposeModel(trained.model);
    modelSnapshot = readFileSync(join(dataDir(), 'models', modelId, 'weights.bin')).toString('base64');
  });
  after(async () => t.close());

  const hostileString = fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', '../../etc/passwd', '..%2F..%2Fetc', '=cmd|\' /C calc\'!A0', '\u0000', '\uFFFD\uD800', 'NaN', 'Infinity', '-1e309', 'a'.repeat(10_000)),
    fc.string(),
  );
  const hostileValue = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, hostileString, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(hostileString, tie('value'), { maxKeys: 4 })),
  })).value;
  const deep = fc.integer({ min: 50, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
  const body = fc.oneof(
    hostileValue.map((v) => JSON.stringify(v)),
    deep,
    fc.constant('{"__proto__": {"polluted": true}, "datasetId": "x", "tasks": []}'),
    fc.constant('{"constructor": {"prototype": {"polluted": true}}}'),
    hostileString,
    fc.record({ datasetId: fc.oneof(hostileString, fc.constant(null).map(() => datasetId)), tasks: fc.array(fc.record({ name: hostileString, type: hostileString, column: hostileString }), { maxLength: 3 }) }).map((v) => JSON.stringify(v)),
    fc.record({ instances: fc.array(fc.dictionary(hostileString, hostileValue), { maxLength: 5 }) }).map((v) => JSON.stringify(v)),
    fc.array(fc.record({ x: fc.oneof(fc.double(), fc.constantFrom(1e308, -1e308, 'NaN', 'Infinity', null)), colour: hostileString }), { minLength: 1, maxLength: 5 }).map((instances) => JSON.stringify({ instances })),
  );
  const contentType = fc.constantFrom('application/json', 'text/csv', 'application/x-ndjson', 'text/plain', 'application/octet-stream', 'multipart/form-data', '');
  const safeEncode = (s: string) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return '%ED%A0%80'; // a lone surrogate, as raw bytes
    }
  };
  const id = fc.oneof(fc.constant(UUID), fc.constant(null).map(() => datasetId), fc.constant(null).map(() => modelId), hostileString.map(safeEncode));

  it('random and hostile requests to every route: never a 5xx, valid JSON, nothing stored changed, nothing outside the data directory touched', async () => {
    const routes = await routesOf(t);
    const before = outside();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), id, body, contentType, async (route, routeId, payload, type) => {
        // DELETE of a real id is a legitimate request, not hostile input: it gets unknown ids only.
        const target = route.method === 'DELETE' && (routeId === datasetId || routeId === modelId) ? UUID : routeId;
        const url = route.path.replace(UUID, target).replace('/events', '/logs'); // the SSE stream never ends on its own; its auth and 404 are tested elsewhere
        const res = await t.app.inject({ method: route.method as 'POST', url, payload: route.method === 'GET' ? undefined : payload, headers: type ? { 'content-type': type } : {} });
        assert.ok(res.statusCode < 500, `${route.method} ${url} (${type}) → ${res.statusCode}: ${res.body.slice(0, 300)}`);
        if (res.headers['content-type']?.toString().includes('json')) JSON.parse(res.body); // no NaN / Infinity literals
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
      }),
      { numRuns: 400, seed: 42 },
    );
    assert.equal(readFileSync(join(dataDir(), 'datasets', datasetId, 'rows.ndjson'), 'utf8'), snapshot, 'the stored dataset is unchanged');
    assert.equal((await t.app.inject({ url: `/v1/datasets/${datasetId}` })).statusCode, 200);
    assert.equal(readFileSync(join(dataDir(), 'models', modelId, 'weights.bin')).toString('base64'), modelSnapshot, 'the stored model is unchanged');
    assert.equal(outside(), before, 'no file appeared or vanished beside the data directory');
    assert.ok(listing(dataDir()).every((p) => !p.includes('..')));
  });

  it('predict never emits NaN or Infinity, even for extreme inputs', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { instances: [{ x: 1e308, colour: 'red' }, { x: -1e308, colour: null }] } });
    assert.equal(res.statusCode, 200, res.body);
    const body = JSON.parse(res.body);
    for (const p of body.predictions) for (const v of Object.values(p.y.probabilities as Record<string, unknown>)) assert.ok(v === null || Number.isFinite(v), String(v));
  });
});
