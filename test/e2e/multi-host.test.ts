import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHostNetwork, netnsPermitted, type Host, type HostNetwork } from '../helpers/netns.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { DIGITS_CSV, PIXELS } from '../helpers/digits.js';
import { digitInstances } from '../helpers/digits-model.js';

/**
 * Past one machine, with real hosts' networking: network namespaces on a bridge. Redis and the S3
 * server (s3rver) on one host, two API hosts and two worker hosts, each process with its own empty
 * DATA_DIR; this process is the client. Upload through API 1, train on worker host A, kill host A
 * (every process, SIGKILL) mid-job: worker host B resumes the job from its checkpoint in the
 * store; both APIs give identical predictions; a delete through API 1 is a 404 on API 2 within 1 s.
 */
const permitted = netnsPermitted();
const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
const WORKER = fileURLToPath(new URL('../../src/worker/main.ts', import.meta.url));

let net: HostNetwork;
let s3: S3Server;
const dirs: string[] = [];
const procs: { name: string; child: ChildProcess; out: () => string }[] = [];
let env: Record<string, string>;
let api1: string;
let api2: string;
let datasetId: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const output = () => procs.map((p) => `--- ${p.name}\n${p.out().slice(-1500)}`).join('\n');

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}\n${output()}`);
}

function start(host: Host, name: string, main: string, extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), `mtl-mh-${name}-`));
  dirs.push(dataDir);
  const child = host.spawn(process.execPath, ['--import', 'tsx', main], { ...env, DATA_DIR: dataDir, ...extra });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  procs.push({ name, child, out: () => out });
  return child;
}

const call = async (base: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(base + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

describe('multi-host: two API hosts, two worker hosts, Redis and S3 on another', { skip: permitted.ok ? false : permitted.reason }, () => {
  before(async () => {
    net = createHostNetwork(['store', 'api1', 'api2', 'wa', 'wb']);
    const { store } = net.hosts;
    const redis = store.spawn('redis-server', ['--bind', store.ip, '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {});
    procs.push({ name: 'redis', child: redis, out: () => '' });
    s3 = await startS3Server({ host: store.ip, port: 4569, run: ['ip', 'netns', 'exec', store.name] });
    env = {
      REDIS_URL: `redis://${store.ip}:6379`,
      STORE_URL: `s3://${s3.bucket}/multi-host`,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      QUEUE_PREFIX: 'mh',
      PORT: '3000',
      LOG_LEVEL: 'info',
      MODEL_CACHE_RECHECK_MS: '60000', // only the pub/sub message can make API 2 forget a model within 1 s
      WORKER_LOCK_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      JOB_ATTEMPTS: '2',
      NODE_NO_WARNINGS: '1',
    };
    start(net.hosts.api1, 'api1', SERVER, { HOST: net.hosts.api1.ip });
    start(net.hosts.api2, 'api2', SERVER, { HOST: net.hosts.api2.ip });
    api1 = `http://${net.hosts.api1.ip}:3000`;
    api2 = `http://${net.hosts.api2.ip}:3000`;
    for (const base of [api1, api2]) await waitFor(`${base} ready`, async () => (await fetch(`${base}/health/ready`)).status === 200);
  });

  after(async () => {
    net?.teardown();
    await s3?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('uploads through API 1; API 2 sees the dataset', async () => {
    const res = await fetch(`${api1}/v1/datasets?name=digits`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: readFileSync(DIGITS_CSV, 'utf8') });
    assert.equal(res.status, 201);
    datasetId = (await res.json()).id;
    const seen = await call(api2, 'GET', `/v1/datasets/${datasetId}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.rows, 1797);
  });

  it('worker host A dies mid-job; worker host B resumes from the checkpoint; both APIs predict alike; a delete is seen within 1 s', async () => {
    start(net.hosts.wa, 'worker-a', WORKER);
    const spec = {
      name: 'multi-host',
      datasetId,
      features: PIXELS.map((name) => ({ name })),
      tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }],
      architecture: { sharedLayers: [64] },
      training: { epochs: 12, earlyStopping: false, seed: 7 },
    };
    const posted = await call(api1, 'POST', '/v1/jobs', spec);
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    const id = posted.body.id as string;
    await waitFor('epoch 3 on host A', async () => {
      const j = (await call(api2, 'GET', `/v1/jobs/${id}`)).body;
      return j.state === 'running' && j.progress.epoch >= 3;
    });
    net.hosts.wa.killAll();
    start(net.hosts.wb, 'worker-b', WORKER);
    const done = await waitFor('the job to finish on host B', async () => {
      const j = (await call(api1, 'GET', `/v1/jobs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    });
    assert.equal(done.state, 'succeeded', done.error);
    assert.deepEqual(done.history.map((h: { epoch: number }) => h.epoch), Array.from({ length: 12 }, (_, i) => i + 1));
    const logs = (await call(api1, 'GET', `/v1/jobs/${id}/logs`)).body.logs.join('\n');
    const resumedAt = Number(/resuming from the checkpoint of epoch (\d+)/.exec(logs)?.[1]);
    assert.ok(resumedAt >= 3, `resumed from epoch ${resumedAt}, not from its checkpoint:\n${logs}`);

    const instances = digitInstances(0, 4);
    const [p1, p2] = [await call(api1, 'POST', `/v1/models/${done.modelId}/predict`, { instances }), await call(api2, 'POST', `/v1/models/${done.modelId}/predict`, { instances })];
    assert.equal(p1.status, 200, JSON.stringify(p1.body));
    assert.deepEqual(p2.body.predictions, p1.body.predictions, 'identical predictions from both API hosts');

    assert.equal((await call(api1, 'DELETE', `/v1/models/${done.modelId}`)).status, 204);
    const deadline = Date.now() + 1000;
    let status = 0;
    while (Date.now() < deadline && status !== 404) status = (await call(api2, 'POST', `/v1/models/${done.modelId}/predict`, { instances })).status;
    assert.equal(status, 404, 'API 2 still served the deleted model after 1 s');
  });
});
