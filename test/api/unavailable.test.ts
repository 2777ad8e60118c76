import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/api/app.js';
import { createServices } from '../../src/api/start-api.js';
import { loadConfig } from '../../src/config.js';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { createTestApp, testApiRoot, type TestApp } from '../helpers/test-app.js';

/** Errors outside the routes (the router's own, a Redis away, a data directory that cannot be written) are problem+json too, with the status that says what happened. */

const PROBLEM = 'application/problem+json; charset=utf-8';

describe("the router's own errors", () => {
  let t: TestApp;
  before(async () => (t = await createTestApp('router-errors')));
  after(async () => t.close());

  it('a path parameter over the length limit is a 414 problem', async () => {
    const res = await t.app.inject({ url: `/v1/datasets/${'a'.repeat(150)}` });
    assert.equal(res.statusCode, 414);
    assert.equal(res.headers['content-type'], PROBLEM);
    const problem = res.json();
    assert.equal(problem.status, 414);
    assert.equal(problem.title, 'URI Too Long');
    assert.ok(res.headers['x-request-id'], 'with its request id');
  });

  it('a URL that does not decode is a 400 problem', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/%E0%A4%A' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], PROBLEM);
    assert.equal(res.json().status, 400);
    assert.match(res.json().detail, /not a valid URL/);
  });
});

describe('Redis going away', () => {
  /** A TCP proxy to the test Redis that can be cut, as a network or a Redis going down would. */
  let proxy: Server;
  const sockets = new Set<Socket>();
  let app: App;
  let dir: string;
  let redis: Awaited<ReturnType<typeof testRedis>>;
  const prefix = uniquePrefix('noredis');
  before(async () => {
    redis = await testRedis();
    const target = new URL(redis.url);
    proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined).on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    dir = mkdtempSync(join(tmpdir(), 'mtl-noredis-'));
    const config = loadConfig({ DATA_DIR: dir, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' });
    app = await buildApp(await createServices(testApiRoot(config, `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`)));
    await app.ready();
  });
  after(async () => {
    await app.close();
    proxy.close();
    await obliterateTrainingQueue(redis.url, prefix);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes that need the queue answer 503 with Retry-After', async () => {
    assert.equal((await app.inject({ url: '/v1/jobs' })).statusCode, 200, 'Redis up');
    proxy.close(); // no new connections...
    for (const s of sockets) s.destroy(); // ...and the open ones cut
    await new Promise((r) => setTimeout(r, 200));
    for (const url of ['/v1/jobs', '/v1/jobs/00000000-0000-4000-8000-000000000000']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 503, `${url}: ${res.body}`);
      assert.equal(res.headers['content-type'], PROBLEM);
      assert.ok(Number(res.headers['retry-after']) > 0, `${url}: Retry-After ${res.headers['retry-after']}`);
    }
    const ready = await app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().checks.redis.ok, false);
  });
});

describe('a data directory that cannot be written', () => {
  let t: TestApp;
  before(async () => (t = await createTestApp('readonly')));
  after(async () => t.close());

  it('/health/ready is 503 naming the directory', async () => {
    assert.equal((await t.app.inject({ url: '/health/ready' })).statusCode, 200);
    // (Tests may run as root, whom permissions do not stop: a file where the directory should be cannot be written under either.)
    rmSync(join(t.config.DATA_DIR, 'models'), { recursive: true, force: true });
    writeFileSync(join(t.config.DATA_DIR, 'models'), '');
    try {
      const ready = await t.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 503, ready.body);
      const { status, checks } = ready.json();
      assert.equal(status, 'unavailable');
      assert.equal(checks.store.ok, false);
      assert.match(checks.store.detail, /models/);
      assert.doesNotMatch(checks.store.detail, /datasets/);
      assert.ok(!checks.store.detail.includes(t.config.DATA_DIR), 'no absolute path on a public route');
    } finally {
      rmSync(join(t.config.DATA_DIR, 'models'), { force: true });
    }
    assert.equal((await t.app.inject({ url: '/health/ready' })).statusCode, 200);
  });

  it('a store write refused by the file system is a 503 problem (507 when the disk is full), never a 500', async () => {
    const { models, datasets } = t.services;
    const deleteModel = models.delete;
    const createDataset = datasets.create;
    const fsError = (code: string) => Object.assign(new Error(`${code}: cannot write, rmdir '${t.config.DATA_DIR}/models/x'`), { code, syscall: 'rmdir', path: `${t.config.DATA_DIR}/models/x` });
    try {
      for (const code of ['EACCES', 'EPERM', 'EROFS']) {
        models.delete = async () => {
          throw fsError(code);
        };
        const res = await t.app.inject({ method: 'DELETE', url: '/v1/models/00000000-0000-4000-8000-000000000000' });
        assert.equal(res.statusCode, 503, `${code}: ${res.body}`);
        assert.equal(res.headers['content-type'], PROBLEM);
        assert.match(res.json().detail, new RegExp(code));
        assert.ok(!res.body.includes(t.config.DATA_DIR), 'no path in the answer');
      }
      datasets.create = async () => {
        throw fsError('ENOSPC');
      };
      const full = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'a\n1\n' });
      assert.equal(full.statusCode, 507, full.body);
      assert.equal(full.headers['content-type'], PROBLEM);
    } finally {
      models.delete = deleteModel;
      datasets.create = createDataset;
    }
  });
});
