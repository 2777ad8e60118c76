import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startApi } from '../../src/api/start-api.js';
import type { App } from '../../src/api/app.js';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testApiRoot } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { DIGITS_CSV, PIXELS } from '../helpers/digits.js';

/**
 * The whole path with real parts: HTTP server, Redis, a worker in its own process training in
 * BullMQ's sandbox, models on disk, prediction over HTTP.
 */
let redis: RedisEndpoint;
let app: App;
let worker: WorkerProcess;
let base: string;
let dataDir: string;
const env: Record<string, string> = {};

const [header, ...lines] = readFileSync(DIGITS_CSV, 'utf8').trim().split('\n');
const columns = header.split(',');
const TRAIN_ROWS = 1500; // the last 297 scans are never uploaded: they are the held-out test set
const heldOut = lines.slice(TRAIN_ROWS).map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i], v])));

async function api(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function uploadCsv(name: string, csvLines: string[]): Promise<string> {
  const res = await api('POST', `/v1/datasets?name=${name}`, [header, ...csvLines].join('\n') + '\n', 'text/csv');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

async function waitForJob(id: string, timeoutMs = 180_000): Promise<any> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const { body } = await api('GET', `/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(body.state)) return body;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish in ${timeoutMs} ms; worker output:\n${worker.output().slice(-3000)}`);
}

function heldOutAccuracy(predictions: any[], task: string, column: string): number {
  let right = 0;
  predictions.forEach((p, i) => {
    if (String(p[task].label) === heldOut[i][column]) right++;
  });
  return right / predictions.length;
}

before(async () => {
  redis = await testRedis();
  dataDir = mkdtempSync(join(tmpdir(), 'mtl-e2e-'));
  Object.assign(env, { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('e2e'), DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
  app = await startApi(testApiRoot(loadConfig(env), redis.url));
  const address = app.server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await worker?.stop();
  await obliterateTrainingQueue(redis.url, env.QUEUE_PREFIX).catch(() => undefined);
  await app.close();
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('end to end: upload → queued training in a worker process → model store → one-pass prediction', () => {
  it('fails a job whose dataset vanished at once, with a message, without retrying', async () => {
    const id = await uploadCsv('doomed', lines.slice(0, 50));
    const job = await api('POST', '/v1/jobs', { datasetId: id, features: PIXELS.map((name) => ({ name })), tasks: [{ name: 'parity', type: 'binary' }] });
    assert.equal(job.status, 202);
    rmSync(join(dataDir, 'datasets', id), { recursive: true }); // gone behind the API's back
    worker = startWorkerProcess({ ...env, LOG_LEVEL: 'info' });
    const done = await waitForJob(job.body.id);
    assert.equal(done.state, 'failed');
    assert.match(done.error, /dataset .* no longer exists/);
    assert.equal(done.attempts, 1, 'an unrecoverable error is not retried');
  });

  it('trains four tasks on real digits and predicts held-out scans far above chance', async () => {
    const datasetId = await uploadCsv('digits', lines.slice(0, TRAIN_ROWS));
    const spec = {
      name: 'digits-mtl',
      datasetId,
      features: PIXELS.map((name) => ({ name, type: 'numeric' })),
      tasks: [
        { name: 'digit', type: 'classification', weight: 1 },
        { name: 'parity', type: 'binary' },
        { name: 'tags', type: 'multilabel' },
        { name: 'value', type: 'regression', weight: 0.5 },
      ],
      architecture: { type: 'hard-sharing', sharedLayers: [64], headLayers: [16] },
      training: { epochs: 15, batchSize: 32, learningRate: 0.003, validationSplit: 0.2, seed: 42, earlyStopping: { patience: 5 } },
    };
    const queued = await api('POST', '/v1/jobs', spec);
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    assert.equal(queued.headers.get('location'), `/v1/jobs/${queued.body.id}`);
    const job = await waitForJob(queued.body.id);
    assert.equal(job.state, 'succeeded', `${job.error}\n${worker.output().slice(-2000)}`);
    assert.equal(job.modelId, queued.body.modelId);
    assert.equal(job.progress.percent, 100);
    assert.ok(job.history.length >= 5);
    for (const epoch of job.history) {
      for (const task of ['digit', 'parity', 'tags', 'value']) {
        const m = epoch.tasks[task];
        assert.equal(typeof m.loss, 'number', `${task} loss in epoch ${epoch.epoch}`);
        assert.equal(typeof m.valMetric, 'number');
      }
    }
    assert.ok(job.history.at(-1).loss < job.history[0].loss);

    const model = (await api('GET', `/v1/models/${job.modelId}`)).body;
    assert.equal(model.name, 'digits-mtl');
    assert.deepEqual(model.tasks[0].labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(['tensorflow', 'blas', 'wasm', 'cpu'].includes(model.backend), `trained on ${model.backend}`);
    assert.ok(model.samplesPerSec > 0);
    assert.ok(model.metrics.digit.accuracy > 0.85);
    assert.equal(model.bestEpoch >= 1, true);
    assert.deepEqual(model.affinity.tasks, ['digit', 'parity', 'tags', 'value']);
    assert.equal(model.affinity.matrix.length, 4);
    assert.ok(model.affinity.groups.flat().length === 4, 'every task is in a suggested group');

    const instances = heldOut.map((r) => Object.fromEntries(PIXELS.map((p) => [p, Number(r[p])])));
    const res = await api('POST', `/v1/models/${job.modelId}/predict`, { instances });
    assert.equal(res.status, 200);
    const { predictions } = res.body;
    assert.equal(predictions.length, heldOut.length);
    const digitAcc = heldOutAccuracy(predictions, 'digit', 'digit');
    const parityAcc = heldOutAccuracy(predictions, 'parity', 'parity');
    assert.ok(digitAcc > 0.85, `held-out digit accuracy ${digitAcc} (chance 0.10)`);
    assert.ok(parityAcc > 0.9, `held-out parity accuracy ${parityAcc} (chance 0.50)`);
    const p = predictions[0];
    assert.deepEqual(Object.keys(p).sort(), ['digit', 'parity', 'tags', 'value']);
    assert.deepEqual(Object.keys(p.parity.probabilities).sort(), ['even', 'odd']);
    assert.ok(Array.isArray(p.tags.labels));
    assert.equal(typeof p.value.value, 'number');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const series of ['mtl_http_request_duration_seconds_bucket', 'mtl_queue_jobs{state="completed"}', 'mtl_jobs_finished_total{outcome="succeeded"}', 'mtl_job_duration_seconds_count', 'mtl_model_cache_requests_total{result="miss"}', 'mtl_api_process_cpu_user_seconds_total'])
      assert.ok(metrics.includes(series), `/metrics has ${series}`);
    // these are always printed (HELP lines, zero-valued series): check they were updated
    for (const updated of [/^mtl_training_samples_per_second [1-9]/m, /^mtl_predict_rows_total\{[^}]*\} [1-9]/m, /^mtl_predict_batch_rows_count [1-9]/m])
      assert.match(metrics, updated);
    console.log(`# e2e held-out accuracy: digit ${digitAcc.toFixed(3)}, parity ${parityAcc.toFixed(3)}; ${model.samplesPerSec} samples/s on ${model.backend}`);
  });

  it('trains with half the rows lacking the digit label (masked loss end to end)', async () => {
    const digitCol = columns.indexOf('digit');
    const sparse = lines.slice(0, TRAIN_ROWS).map((l, i) => {
      if (i % 2 === 1) return l;
      const cells = l.split(',');
      cells[digitCol] = '';
      return cells.join(',');
    });
    const datasetId = await uploadCsv('digits-sparse', sparse);
    const ds = (await api('GET', `/v1/datasets/${datasetId}`)).body;
    assert.equal(ds.columns.find((c: { name: string }) => c.name === 'digit').missing, TRAIN_ROWS / 2);
    const queued = await api('POST', '/v1/jobs', {
      datasetId,
      features: PIXELS.map((name) => ({ name })),
      tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }],
      architecture: { sharedLayers: [64] },
      training: { epochs: 15, learningRate: 0.003, batchSize: 32 },
    });
    assert.equal(queued.status, 202);
    const job = await waitForJob(queued.body.id);
    assert.equal(job.state, 'succeeded', job.error);
    const model = (await api('GET', `/v1/models/${job.modelId}`)).body;
    assert.ok(Math.abs(model.metrics.parity.count - 2 * model.metrics.digit.count) < model.metrics.parity.count * 0.2, 'digit is scored on the labelled half only');
    const instances = heldOut.map((r) => Object.fromEntries(PIXELS.map((p) => [p, Number(r[p])])));
    const { body } = await api('POST', `/v1/models/${job.modelId}/predict`, { instances });
    const digitAcc = heldOutAccuracy(body.predictions, 'digit', 'digit');
    assert.ok(digitAcc > 0.8, `held-out digit accuracy with half the labels: ${digitAcc}`);
  });
});
