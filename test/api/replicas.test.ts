import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { testRedis, uniquePrefix } from '../helpers/redis.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { s3Env, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { useTestBackend } from '../helpers/backend.js';
import { assertSamePredictions, digitInstances, trainDigitsModel } from '../helpers/digits-model.js';

/**
 * Two API replicas with nothing on a shared disk: each its own DATA_DIR, both on one S3 store
 * (s3rver) and one Redis. A model deleted through one is gone from the other's cache within 1 s
 * (Redis pub/sub: the recheck period is set to a minute, so only the message can do it); the rate
 * limit is one limit across both.
 */
let s3: S3Server;
let a: TestApp;
let b: TestApp;
const saved: Record<string, string | undefined> = {};

before(async () => {
  await useTestBackend();
  const redis = await testRedis();
  s3 = await startS3Server();
  const env = { ...s3Env(s3, `replicas-${Date.now()}`), REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('replicas'), MODEL_CACHE_RECHECK_MS: '60000', RATE_LIMIT_MAX: '40' };
  // The SDK reads region and credentials from the environment (its default chain), as in production.
  for (const k of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
    saved[k] = process.env[k];
    process.env[k] = env[k as keyof typeof env];
  }
  a = await createTestApp('replica-a', env);
  b = await createTestApp('replica-b', env);
  await redis.stop();
});
after(async () => {
  await a?.close();
  await b?.close();
  await s3?.stop();
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

describe('API replicas on one S3 store', () => {
  it('serve the same model with identical predictions; a delete through one is a 404 on the other within 1 s', async () => {
    assert.notEqual(a.config.DATA_DIR, b.config.DATA_DIR);
    const model = await trainDigitsModel({ name: 'replicated', epochs: 1 });
    const stored = await a.services.models.save(model.metadata, model.artifacts);
    model.dispose();
    const instances = digitInstances(0, 3);
    const predict = (t: TestApp) => t.app.inject({ method: 'POST', url: `/v1/models/${stored.id}/predict`, payload: { instances } });
    const [fromA, fromB] = [await predict(a), await predict(b)];
    assert.equal(fromA.statusCode, 200, fromA.body);
    assert.equal(fromB.statusCode, 200, fromB.body);
    assertSamePredictions(fromB.json().predictions, fromA.json().predictions, 0);
    assert.equal((await b.app.inject({ url: '/v1/models/replicated' })).statusCode, 200);

    assert.equal((await a.app.inject({ method: 'DELETE', url: `/v1/models/${stored.id}` })).statusCode, 204);
    const deadline = Date.now() + 1000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await predict(b)).statusCode;
      if (status === 404) break;
      await sleep(50);
    }
    assert.equal(status, 404, 'replica B still served the deleted model after 1 s');
  });

  it('share one rate limit: 40 requests across both, then 429 from either', async () => {
    const hit = (t: TestApp) => t.app.inject({ url: '/v1/datasets', headers: { 'x-forwarded-for': '203.0.113.9' } });
    const before = (await hit(a)).headers['x-ratelimit-remaining'];
    const left = Number(before);
    assert.ok(left > 0 && left < 40, `remaining ${before}`);
    for (let i = 0; i < left; i++) assert.notEqual((await hit(i % 2 === 0 ? a : b)).statusCode, 429, `request ${i}`);
    assert.equal((await hit(a)).statusCode, 429);
    assert.equal((await hit(b)).statusCode, 429);
  });

  it('/health/ready checks the S3 store and names it when it is unreachable', async () => {
    assert.equal((await a.app.inject({ url: '/health/ready' })).statusCode, 200);
    await s3.kill();
    try {
      const ready = await a.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 503);
      assert.match(ready.json().checks.store.detail, /^store s3:\/\/mtl-test\/replicas-\d+\/?\S* does not take writes/);
    } finally {
      await s3.start();
    }
    assert.equal((await a.app.inject({ url: '/health/ready' })).statusCode, 200);
  });
});
