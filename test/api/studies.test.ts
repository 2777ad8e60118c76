import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { createRng } from '../../src/mtl/rng.js';
import { STUDY_QUEUE } from '../../src/queue/study-types.js';

/**
 * Studies end to end: the real API in this process, real worker processes training the trials on
 * the shared queue (real Redis). Tiny generated data and few epochs, so each study takes seconds.
 */
let t: TestApp;
let datasetId: string;
const workers: WorkerProcess[] = [];
const TASKS = [
  { name: 'a1', type: 'regression' },
  { name: 'a2', type: 'regression' },
  { name: 'b1', type: 'regression' },
];

/** Two latent factors of six inputs; a1 and a2 follow the first (nonlinearly), b1 the second. */
function clusteredCsv(rows: number): string {
  const rand = createRng(7);
  const normal = () => rand() + rand() + rand() - 1.5;
  const lines = ['x0,x1,x2,x3,x4,x5,a1,a2,b1'];
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: 6 }, normal);
    const z1 = x[0] + x[1] - x[2];
    const z2 = x[3] - x[4] + x[5];
    lines.push([...x.map((v) => v.toFixed(4)), (Math.tanh(z1) + 0.05 * normal()).toFixed(4), (z1 * z1 * 0.3 + 0.05 * normal()).toFixed(4), (Math.sin(z2) + 0.05 * normal()).toFixed(4)].join(','));
  }
  return lines.join('\n') + '\n';
}

const workerEnv = () => ({ REDIS_URL: t.redisUrl, QUEUE_PREFIX: t.config.QUEUE_PREFIX, DATA_DIR: t.config.DATA_DIR, WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', STUDY_POLL_MS: '100', MTL_BLAS_THREADS: '1' });
/** One worker process for the file, started by the first test that needs it. */
const ensureWorker = () => {
  if (workers.length === 0) workers.push(startWorkerProcess(workerEnv()));
};
const post = (payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/studies', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
const get = async (id: string) => (await t.app.inject({ url: `/v1/studies/${id}` })).json();

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const finished = (id: string, timeoutMs?: number) =>
  waitFor(`study ${id} to finish`, async () => {
    const s = await get(id);
    return ['succeeded', 'failed', 'cancelled'].includes(s.state) ? s : undefined;
  }, timeoutMs);

before(async () => {
  t = await createTestApp('studies');
  datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets?name=clusters', headers: { 'content-type': 'text/csv' }, payload: clusteredCsv(300) })).json().id;
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  const connection = new Redis(t.redisUrl, { maxRetriesPerRequest: 1 });
  const q = new Queue(STUDY_QUEUE, { connection, prefix: t.config.QUEUE_PREFIX });
  await q.obliterate({ force: true }).catch(() => undefined);
  await q.close();
  connection.disconnect();
  await t.close();
});

const small = { epochs: { min: 2, max: 6 }, widths: [16], depths: [1], batchSize: [32], learningRate: [0.01, 0.003] };

describe('studies API', () => {
  it('refuses bad input with 4xx problem+json naming the field, and queues nothing', async () => {
    const base = { name: 'bad', datasetId, tasks: TASKS };
    const cases: [unknown, number, string][] = [
      [{ ...base, search: { architectures: ['transformer'] } }, 422, '/search/architectures/0'],
      [{ ...base, search: { lossWeighting: ['magic'] } }, 422, '/search/lossWeighting/0'],
      [{ ...base, search: { architectures: [] } }, 400, '/search/architectures'],
      [{ ...base, budget: { trials: 0 } }, 400, '/budget/trials'],
      [{ ...base, datasetId: '00000000-0000-4000-8000-000000000000' }, 422, '/datasetId'],
      [{ ...base, tasks: [{ name: 'ghost', type: 'regression' }] }, 422, '/tasks/0/column'],
      [{ ...base, features: [{ name: 'nope' }] }, 422, '/features/0/name'],
      [{ ...base, search: { epochs: { min: 9, max: 3 } } }, 422, '/search/epochs/min'],
    ];
    for (const [body, status, pointer] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const pointers = res.json().errors.map((e: { pointer: string }) => e.pointer);
      assert.ok(pointers.includes(pointer), `${pointer} not in ${pointers}`);
    }
    assert.deepEqual((await t.app.inject({ url: '/v1/studies' })).json().studies, []);
    assert.equal(await t.services.studyQueue.queue.count(), 0);
    assert.equal((await t.app.inject({ url: '/v1/studies/00000000-0000-4000-8000-000000000000' })).statusCode, 404);
  });

  it('runs a study: a reference job, the budget of trials in rungs, the best saved under the study name and predictable', async () => {
    ensureWorker();
    const res = await post({ name: 'clusters', datasetId, tasks: TASKS, budget: { trials: 3, maxMinutes: 5 }, search: { ...small, architectures: ['hard-sharing', 'mmoe'] }, training: { seed: 3 } });
    assert.equal(res.statusCode, 202, res.body);
    const { id, state } = res.json();
    assert.equal(state, 'queued');
    assert.equal(res.headers.location, `/v1/studies/${id}`);
    const study = await finished(id);
    assert.equal(study.state, 'succeeded', JSON.stringify(study.error));
    assert.deepEqual(study.rungs, [2, 6]);
    assert.equal(study.trials.length, 3, 'budget.trials configurations');
    assert.equal(study.trials.flatMap((tr: { runs: unknown[] }) => tr.runs).length, 3 + 1, 'three at rung 0, the best one at rung 1');
    assert.equal(study.trials.filter((tr: { stoppedEarly: boolean }) => tr.stoppedEarly).length, 2);
    assert.deepEqual(study.progress, { done: 5, total: 5 });
    for (const task of ['a1', 'a2', 'b1']) assert.equal(study.references[task].single.metric, 'rmse');
    assert.ok(study.affinity && study.affinity.tasks.length === 3);
    assert.ok(study.best && study.trials.some((tr: { id: string; runs: unknown[] }) => tr.id === study.best.trialId && tr.runs.length === 2), 'the best went through every rung');
    assert.ok(study.pareto.includes(study.best.trialId) || study.pareto.length > 0);
    const model = (await t.app.inject({ url: `/v1/models/${study.best.modelId}` })).json();
    assert.equal(model.name, 'clusters');
    const predicted = await t.app.inject({ method: 'POST', url: '/v1/models/clusters/predict', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ instances: [{ x0: 0.1, x1: -0.2, x2: 0.3, x3: 0, x4: 0.5, x5: -1 }] }) });
    assert.equal(predicted.statusCode, 200, predicted.body);
    assert.deepEqual(Object.keys(predicted.json().predictions[0]).sort(), ['a1', 'a2', 'b1']);
    // Trials are ordinary jobs, tagged with their study.
    const jobs = (await t.app.inject({ url: '/v1/jobs' })).json().jobs as { id: string; study?: { studyId: string; trialId: string } }[];
    const tagged = jobs.filter((j) => j.study?.studyId === id);
    assert.equal(tagged.length, 5);
    assert.ok(tagged.some((j) => j.study!.trialId === 'reference'));
    // Listed, and the event stream ends at once for a finished study.
    assert.ok((await t.app.inject({ url: '/v1/studies' })).json().studies.some((s: { id: string; modelId: string }) => s.id === id && s.modelId === study.best.modelId));
    const events = await t.app.inject({ url: `/v1/studies/${id}/events` });
    assert.match(events.body, /event: study\n/);
    assert.match(events.body, /event: end\n/);
    // Finished studies cannot be cancelled.
    assert.equal((await t.app.inject({ method: 'POST', url: `/v1/studies/${id}/cancel` })).statusCode, 409);
  });

  it('cancel ends every trial', async () => {
    const res = await post({ name: 'cancelled', datasetId, tasks: TASKS, budget: { trials: 6, maxMinutes: 5 }, search: { ...small, epochs: { min: 30, max: 90 }, architectures: ['hard-sharing'] } });
    ensureWorker();
    const { id } = res.json();
    await waitFor('a job of the study running', async () => {
      const s = await get(id);
      return s.referenceJob?.state === 'running' || s.trials.some((tr: { state: string }) => tr.state === 'running') ? true : undefined;
    });
    const cancel = await t.app.inject({ method: 'POST', url: `/v1/studies/${id}/cancel` });
    assert.equal(cancel.statusCode, 202, cancel.body);
    const study = await finished(id);
    assert.equal(study.state, 'cancelled');
    assert.equal(study.best, null);
    const jobIds = [study.referenceJob.jobId, ...study.trials.flatMap((tr: { runs: { jobId: string }[] }) => tr.runs.map((r) => r.jobId))];
    for (const jobId of jobIds) {
      const job = (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json();
      assert.ok(['succeeded', 'cancelled'].includes(job.state), `job ${jobId} is ${job.state}`);
    }
    assert.ok(study.trials.every((tr: { state: string }) => ['succeeded', 'cancelled'].includes(tr.state)));
  });

  it('a study whose worker is killed mid-trial still finishes on another worker', async () => {
    ensureWorker();
    workers.push(startWorkerProcess(workerEnv()));
    const res = await post({ name: 'survivor', datasetId, tasks: TASKS, budget: { trials: 2, maxMinutes: 5 }, search: { ...small, epochs: { min: 15, max: 15 }, architectures: ['hard-sharing'] } });
    const { id } = res.json();
    const running = await waitFor('a trial running', async () => (await get(id)).trials.find((tr: { state: string; jobId: string }) => tr.state === 'running')?.jobId as string | undefined);
    const victim = workers.find((w) => w.output().includes(running))!;
    assert.ok(victim, 'the worker running the trial');
    victim.child.kill('SIGKILL');
    const study = await finished(id, 120_000);
    assert.equal(study.state, 'succeeded', JSON.stringify(study.error));
    assert.ok(study.trials.every((tr: { state: string }) => tr.state === 'succeeded'));
  });
});
