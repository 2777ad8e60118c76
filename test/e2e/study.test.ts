import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { createRng } from '../../src/mtl/rng.js';
import { STUDY_QUEUE } from '../../src/queue/study-types.js';

/**
 * What a study must find, on data generated here: two clusters of related tasks (the tasks of a
 * cluster are functions of one latent factor of the inputs, the clusters' factors unrelated) → the
 * chosen grouping is the clusters. One real worker process, real Redis.
 */
let t: TestApp;
let worker: WorkerProcess;

/** 12 inputs; z1 from the first six, z2 from the last six; a1, a2 follow z1, b1, b2 follow z2; sparse labels. */
function clustersCsv(rows: number): string {
  const rand = createRng(11);
  const normal = () => (rand() + rand() + rand() - 1.5) * 2;
  const w1 = Array.from({ length: 6 }, normal);
  const w2 = Array.from({ length: 6 }, normal);
  const lines = [[...Array.from({ length: 12 }, (_, i) => `x${i}`), 'a1', 'a2', 'b1', 'b2'].join(',')];
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: 12 }, normal);
    const z1 = Math.tanh(x.slice(0, 6).reduce((s, v, i) => s + v * w1[i], 0) / 4);
    const z2 = Math.tanh(x.slice(6).reduce((s, v, i) => s + v * w2[i], 0) / 4);
    const noise = () => 0.05 * normal();
    // Each task is labelled on about a third of the rows: a task learns its factor from its own
    // labels alone, or from its cluster's too when it shares a trunk with them.
    const label = (v: number) => (rand() < 0.35 ? v.toFixed(4) : '');
    lines.push([...x.map((v) => v.toFixed(4)), label(z1 + noise()), label(-2 * z1 + noise()), label(z2 + noise()), label(3 * z2 + noise())].join(','));
  }
  return lines.join('\n') + '\n';
}

const sorted = (g: string[][]) => g.map((x) => [...x].sort()).sort((a, b) => a[0].localeCompare(b[0]));

before(async () => {
  t = await createTestApp('study-e2e');
  worker = startWorkerProcess({ REDIS_URL: t.redisUrl, QUEUE_PREFIX: t.config.QUEUE_PREFIX, DATA_DIR: t.config.DATA_DIR, STUDY_POLL_MS: '100', MTL_BLAS_THREADS: '1' });
});
after(async () => {
  await worker.stop();
  const connection = new Redis(t.redisUrl, { maxRetriesPerRequest: 1 });
  const q = new Queue(STUDY_QUEUE, { connection, prefix: t.config.QUEUE_PREFIX });
  await q.obliterate({ force: true }).catch(() => undefined);
  await q.close();
  connection.disconnect();
  await t.close();
});

async function runStudy(body: unknown) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/studies', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;
  for (const until = Date.now() + 150_000; Date.now() < until; await new Promise((r) => setTimeout(r, 300))) {
    const study = (await t.app.inject({ url: `/v1/studies/${id}` })).json();
    if (['succeeded', 'failed', 'cancelled'].includes(study.state)) return study;
  }
  throw new Error(`study ${id} did not finish:\n${worker.output().slice(-2000)}`);
}

describe('a study on generated data', () => {
  it('recovers two clusters of related tasks as its grouping', async () => {
    const datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets?name=clusters', headers: { 'content-type': 'text/csv' }, payload: clustersCsv(500) })).json().id;
    const study = await runStudy({
      name: 'clusters',
      datasetId,
      tasks: ['a1', 'a2', 'b1', 'b2'].map((name) => ({ name, type: 'regression' })),
      budget: { trials: 4, maxMinutes: 5 },
      search: { architectures: ['branched'], widths: [3], depths: [1], batchSize: [32], learningRate: [0.01], lossWeighting: ['static'], weightDecay: [0], dropout: [0], epochs: { min: 10, max: 30 } },
      training: { seed: 1 },
    });
    assert.equal(study.state, 'succeeded', study.error);
    // The affinity of the reference job sees the clusters: in two groups, they are the groups…
    assert.deepEqual(sorted(study.groupings[0]), [['a1', 'a2'], ['b1', 'b2']], JSON.stringify(study.affinity));
    // …the search tries them beside the other groupings, all together and each alone, and the clusters win.
    assert.equal(study.trials.length, 4);
    assert.deepEqual(sorted(study.grouping), [['a1', 'a2'], ['b1', 'b2']], study.trials.map((x: { summary: string; score: number }) => `${x.summary}: ${x.score}`).join('\n'));
  });
});
