import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { buildApp, type App } from '../../src/api/app.js';
import { createServices } from '../../src/api/start-api.js';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testApiRoot } from '../helpers/test-app.js';

/**
 * A job and the deletion of its dataset, sent at the same moment to two API processes (two apps
 * on one Redis, one DATA_DIR, one queue prefix): one of them wins, never both. Either the job is
 * queued and the delete is refused (409), or the dataset is gone and the job is refused (422).
 */
let redis: RedisEndpoint;
const dataDir = mkdtempSync(join(tmpdir(), 'mtl-claims-'));
const prefix = uniquePrefix('claims');
const apps: App[] = [];

before(async () => {
  redis = await testRedis();
  const config = loadConfig({ DATA_DIR: dataDir, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '600000' });
  for (let i = 0; i < 2; i++) {
    const app = await buildApp(await createServices(testApiRoot(config, redis.url)), { logger: false });
    await app.ready();
    apps.push(app);
  }
});

after(async () => {
  for (const app of apps) await app.close();
  await obliterateTrainingQueue(redis.url, prefix).catch(() => undefined);
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const CSV = 'x,y,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${(i * 7) % 11},${i % 2 ? 'a' : 'b'}`).join('\n') + '\n';

describe('a job and the deletion of its dataset at the same moment', () => {
  it('never both succeed (60 pairs over two API processes)', async (t) => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const [jobsApp, datasetsApp] = i % 2 ? [apps[0], apps[1]] : [apps[1], apps[0]];
      const upload = await datasetsApp.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: CSV });
      assert.equal(upload.statusCode, 201, upload.body);
      const datasetId = upload.json().id as string;
      const body = JSON.stringify({ datasetId, tasks: [{ name: 'label', type: 'binary' }], training: { epochs: 1 } });
      const [job, del] = await Promise.all([
        jobsApp.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: body }),
        datasetsApp.inject({ method: 'DELETE', url: `/v1/datasets/${datasetId}` }),
      ]);
      const pair = `${job.statusCode}/${del.statusCode}`;
      outcomes.set(pair, (outcomes.get(pair) ?? 0) + 1);
      assert.ok(pair === '202/409' || pair === '422/204', `try ${i}: POST /v1/jobs ${job.statusCode} ${job.body} and DELETE ${del.statusCode} ${del.body}`);
      const stored = await datasetsApp.inject({ url: `/v1/datasets/${datasetId}` });
      assert.equal(stored.statusCode, job.statusCode === 202 ? 200 : 404, 'the dataset exists exactly when a job was queued on it');
      if (job.statusCode === 202) {
        // Free the dataset for nothing else: cancel the job so the queue stays small.
        assert.equal((await jobsApp.inject({ method: 'POST', url: `/v1/jobs/${job.json().id}/cancel` })).statusCode, 202);
      }
    }
    t.diagnostic(`POST /v1/jobs / DELETE outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });
});
