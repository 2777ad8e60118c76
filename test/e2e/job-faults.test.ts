import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { startApi } from '../../src/api/start-api.js';
import type { App } from '../../src/api/app.js';
import { startRedisServer, type RedisEndpoint } from '../../src/queue/local-redis.js';
import { uniquePrefix } from '../helpers/redis.js';
import { testApiRoot } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { DIGITS_CSV, PIXELS } from '../helpers/digits.js';

/**
 * Jobs that survive: real worker processes killed, stopped and cancelled mid-training, Redis
 * restarted under a queued job, live progress over SSE. Each case is bounded in time.
 */
let redis: RedisEndpoint;
let redisPort: number;
const redisDir = mkdtempSync(join(tmpdir(), 'mtl-faults-redis-'));
const dataDir = mkdtempSync(join(tmpdir(), 'mtl-faults-'));
let app: App;
let base: string;
let datasetId: string;
const workers: WorkerProcess[] = [];
const env: Record<string, string> = {};

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(base + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const spec = (epochs: number, extra: Record<string, unknown> = {}) => ({
  datasetId,
  features: PIXELS.map((name) => ({ name })),
  tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }],
  architecture: { sharedLayers: [64] },
  training: { epochs, earlyStopping: false, ...extra },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}; worker output:\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`);
}
const job = (id: string) => api('GET', `/v1/jobs/${id}`).then((r) => r.body);
const finished = (id: string) => waitFor(`job ${id} to finish`, async () => { const j = await job(id); return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j; });
const atEpoch = (id: string, n: number) => waitFor(`job ${id} epoch ${n}`, async () => { const j = await job(id); return j.state === 'running' && j.progress.epoch >= n && j; });
const worker = (extra: Record<string, string> = {}) => {
  const w = startWorkerProcess({ ...env, LOG_LEVEL: 'info', ...extra });
  workers.push(w);
  return w;
};
/** The pid of a worker's training child process (BullMQ's sandbox, forked when its first job starts). Linux: /proc. */
const trainingChildOf = (workerPid: number) =>
  waitFor(`worker ${workerPid}'s training child`, async () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .find((pid) => {
        try {
          const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
          return ppid === workerPid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bullmq');
        } catch {
          return false;
        }
      }), 10_000);
/** A process that exists and is not a zombie (a reaped or killed-and-orphaned child is neither). */
const isRunning = (pid: number) => {
  try {
    return !/^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const checkpointOf = (jobId: string) => join(dataDir, 'checkpoints', `${jobId}.ckpt`);
const assertCompleteHistory = (j: { history: { epoch: number }[] }, epochs: number) =>
  assert.deepEqual(j.history.map((h) => h.epoch), Array.from({ length: epochs }, (_, i) => i + 1), 'every epoch exactly once, in order');

before(async () => {
  redis = await startRedisServer({ dir: redisDir, persist: true });
  redisPort = Number(new URL(redis.url).port);
  Object.assign(env, { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('faults'), DATA_DIR: dataDir, PORT: '0', WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', WORKER_SHUTDOWN_GRACE_MS: '10000', JOB_ATTEMPTS: '2' });
  app = await startApi(testApiRoot(loadConfig({ ...env, LOG_LEVEL: 'silent' }), redis.url));
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const csv = readFileSync(DIGITS_CSV, 'utf8');
  const res = await fetch(`${base}/v1/datasets?name=digits`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
  datasetId = (await res.json()).id;
});

after(async () => {
  for (const w of workers) await w.stop();
  await app.close();
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(redisDir, { recursive: true, force: true });
});

describe('jobs that survive faults (real worker processes)', () => {
  it('streams every epoch in order over SSE, then resumes after Last-Event-ID', async () => {
    const w = worker();
    const { id } = (await api('POST', '/v1/jobs', spec(5))).body;
    const res = await fetch(`${base}/v1/jobs/${id}/events`, { signal: AbortSignal.timeout(120_000) });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await res.text(); // the server ends the stream when the job ends
    const events = text.split('\n\n').filter((b) => b.includes('event:')).map((b) => ({
      id: /^id: (\d+)$/m.exec(b)?.[1],
      event: /^event: (\w+)$/m.exec(b)![1],
      data: JSON.parse(/^data: (.*)$/m.exec(b)![1]),
    }));
    const epochs = events.filter((e) => e.event === 'epoch');
    assert.deepEqual(epochs.map((e) => e.data.epoch), [1, 2, 3, 4, 5]);
    assert.deepEqual(epochs.map((e) => e.id), ['1', '2', '3', '4', '5']);
    assert.equal(typeof epochs[0].data.tasks.digit.valMetric, 'number');
    assert.deepEqual(Object.keys(epochs[0].data.weights), ['digit', 'parity']);
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.state);
    assert.equal(states.at(-1), 'succeeded');
    assert.equal(events.at(-1)!.event, 'end');
    const again = await (await fetch(`${base}/v1/jobs/${id}/events`, { headers: { 'last-event-id': '3' } })).text();
    assert.deepEqual([...again.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]), ['4', '5']);
    const logs = (await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n');
    assert.match(logs, /dataset opened/);
    assert.match(logs, /preprocessing fitted/);
    assert.match(logs, /TensorFlow|backend/);
    assert.match(logs, /epoch 5\/5/);
    await w.stop();
  });

  it('kill -9 mid-training: a second worker resumes from the checkpoint; history complete', async () => {
    const a = worker();
    const { id } = (await api('POST', '/v1/jobs', spec(14))).body;
    await atEpoch(id, 4);
    a.child.kill('SIGKILL');
    await sleep(300);
    worker();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assertCompleteHistory(done, 14);
    const logs = (await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n');
    const resumedAt = Number(/resuming from the checkpoint of epoch (\d+)/.exec(logs)?.[1]);
    assert.ok(resumedAt >= 4, `resumed from epoch ${resumedAt}, not from 0:\n${logs}`);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('SIGTERM mid-training: the worker hands the job back and exits; another finishes it', async () => {
    const a = worker();
    const { id } = (await api('POST', '/v1/jobs', spec(12))).body;
    await atEpoch(id, 3);
    const stoppedAt = Date.now();
    a.child.kill('SIGTERM');
    await new Promise((r) => a.child.once('exit', r));
    assert.ok(Date.now() - stoppedAt < 10_000, 'the worker exits within its grace period');
    assert.equal((await job(id)).state, 'queued', 'the job went back to the queue');
    worker();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assertCompleteHistory(done, 12);
    assert.match((await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n'), /handed back[\s\S]*resuming from the checkpoint/);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('cancels a running job on a worker in another process; the worker goes on with the next job', async () => {
    worker();
    const { id } = (await api('POST', '/v1/jobs', spec(200))).body;
    await atEpoch(id, 1);
    const cancelled = await api('POST', `/v1/jobs/${id}/cancel`);
    assert.equal(cancelled.status, 202);
    const done = await finished(id);
    assert.equal(done.state, 'cancelled');
    assert.ok(done.progress.epoch < 200);
    assert.equal((await api('POST', `/v1/jobs/${id}/cancel`)).status, 409);
    const next = (await api('POST', '/v1/jobs', spec(2))).body;
    assert.equal((await finished(next.id)).state, 'succeeded');
  });

  it('a job over training.maxMinutes fails with that reason', async () => {
    const { id } = (await api('POST', '/v1/jobs', spec(500, { maxMinutes: 0.02 }))).body;
    const done = await finished(id);
    assert.equal(done.state, 'failed');
    assert.match(done.error, /maxMinutes/);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('SIGTERM while the training child does not answer: the worker kills it when its grace runs out; the job resumes elsewhere', async () => {
    const a = worker({ WORKER_SHUTDOWN_GRACE_MS: '1500' });
    const { id } = (await api('POST', '/v1/jobs', spec(8))).body;
    await atEpoch(id, 2);
    const trainer = await trainingChildOf(a.child.pid!);
    process.kill(trainer, 'SIGSTOP'); // as a training step that does not return: it sees no cancel and no shutdown
    try {
      const stoppedAt = Date.now();
      a.child.kill('SIGTERM');
      await new Promise((r) => a.child.once('exit', r));
      assert.ok(Date.now() - stoppedAt < 8000, 'the worker exits soon after its grace');
      assert.equal(isRunning(trainer), false, `the training child ${trainer} outlived its worker:\n${a.output().slice(-1500)}`);
    } finally {
      if (isRunning(trainer)) {
        process.kill(trainer, 'SIGKILL');
        process.kill(trainer, 'SIGCONT');
      }
    }
    worker();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assert.equal(done.attempts, 1, 'one attempt (its success): the killed run did not count as a failed one, the job stalled and was recovered');
    assertCompleteHistory(done, 8);
    assert.match((await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n'), /resuming from the checkpoint of epoch/);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('cancel mid-epoch on a slow spec (long epochs): cancelled within 2 s; no model, no checkpoint', async (t) => {
    worker();
    const slow = { ...spec(50, { batchSize: 2 }), architecture: { sharedLayers: [256, 256] } };
    const { id, modelId } = (await api('POST', '/v1/jobs', slow)).body;
    const first = await atEpoch(id, 1);
    const epochMs = first.history[0].durationMs;
    await sleep(epochMs / 3);
    const cancelledAt = Date.now();
    assert.equal((await api('POST', `/v1/jobs/${id}/cancel`)).status, 202);
    const done = await waitFor('the job to end', async () => { const j = await job(id); return j.state !== 'running' && j; }, 30_000);
    const seconds = (Date.now() - cancelledAt) / 1000;
    t.diagnostic(`cancel → ${done.state} in ${seconds} s, epochs of ${epochMs} ms, stopped in epoch ${done.progress.epoch + 1}`);
    assert.equal(done.state, 'cancelled', done.error);
    assert.ok(done.progress.epoch <= 2, `cancelled mid-epoch (epochs of ${epochMs} ms), not after epoch ${done.progress.epoch}`);
    assert.ok(seconds < 2, `cancel took ${seconds} s (epochs of ${epochMs} ms)`);
    assert.equal(existsSync(join(dataDir, 'models', modelId)), false, 'no model saved');
    assert.equal(existsSync(checkpointOf(id)), false, 'no checkpoint left');
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('a failing job keeps its checkpoint while a retry remains, and loses it once it failed for good', async () => {
    worker();
    const { id, modelId } = (await api('POST', '/v1/jobs', spec(3))).body;
    // The model's directory is taken: every save fails (as on a full disk), after training wrote its checkpoints.
    mkdirSync(join(dataDir, 'models', modelId, 'in-the-way'), { recursive: true });
    const retrying = await waitFor('the first attempt to fail', async () => { const j = await job(id); return j.attempts === 1 && j.state === 'queued' && j; });
    assert.equal(retrying.progress.epoch, 3);
    assert.ok(existsSync(checkpointOf(id)), 'the checkpoint is kept for the retry');
    const done = await finished(id);
    assert.equal(done.state, 'failed');
    assert.equal(done.attempts, 2);
    await waitFor('the checkpoint of the failed job to be deleted', async () => !existsSync(checkpointOf(id)), 10_000);
    rmSync(join(dataDir, 'models', modelId), { recursive: true, force: true });
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('a run that lost its job lock (as when Redis loses it) stops; the job resumes from its checkpoint, history complete', async () => {
    worker();
    // Long enough after epoch 3 (~40 × 180 steps) that the run is still training when its lock
    // renewal (every WORKER_LOCK_MS / 2) finds the lock gone: on an idle machine 12 epochs of batch 64 ended first.
    const { id } = (await api('POST', '/v1/jobs', spec(40, { batchSize: 8 }))).body;
    await atEpoch(id, 3);
    const redisClient = new Redis(redis.url);
    await redisClient.del(`${env.QUEUE_PREFIX}:training:${id}:lock`);
    redisClient.disconnect();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assertCompleteHistory(done, 40);
    const logs = (await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n');
    assert.match(logs, /lost the job lock[\s\S]*resuming from the checkpoint of epoch/, logs);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('a job whose model an earlier run already saved (its success never recorded) succeeds without training again', async () => {
    const { id, modelId } = (await api('POST', '/v1/jobs', spec(3))).body; // no worker is running
    // What a run leaves that saved the model, then lost the job before recording it (Redis away, lock expired).
    mkdirSync(join(dataDir, 'models', modelId), { recursive: true });
    const metadata = { id: modelId, jobId: id, name: 'earlier-run', version: 1, bestEpoch: 3, epochsRun: 3, samplesPerSec: 1234, backend: 'cpu', training: { epochs: 3 } };
    writeFileSync(join(dataDir, 'models', modelId, 'metadata.json'), JSON.stringify(metadata));
    worker();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assert.equal(done.modelId, modelId);
    const logs = (await api('GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n');
    assert.match(logs, /model already saved by an earlier run of this job/);
    assert.doesNotMatch(logs, /epoch 1\/3/, 'not trained again');
    rmSync(join(dataDir, 'models', modelId), { recursive: true, force: true });
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('a queued job survives a Redis restart; the API answers 503 meanwhile and recovers by itself', async () => {
    const { id } = (await api('POST', '/v1/jobs', spec(3))).body; // no worker is running
    await redis.stop(); // SIGTERM: Redis writes its append-only file and exits
    const down = await api('GET', `/v1/jobs/${id}`);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 503);
    assert.equal((await api('GET', '/health/ready')).status, 503);
    redis = await startRedisServer({ dir: redisDir, persist: true, port: redisPort });
    const back = await waitFor('the API to reach Redis again', async () => { const r = await api('GET', `/v1/jobs/${id}`); return r.status === 200 && r.body; }, 30_000);
    assert.equal(back.state, 'queued');
    worker();
    const done = await finished(id);
    assert.equal(done.state, 'succeeded', done.error);
    assertCompleteHistory(done, 3);
  });
});
