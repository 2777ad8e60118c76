import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TRAINING_QUEUE } from '../../src/queue/job-types.js';

let t: TestApp;
let datasetId: string;
before(async () => {
  t = await createTestApp('jobs');
  const csv = 'x,colour,label,flag,empty,price\n1,red,cat,yes,,1.5\n2,blue,dog,no,,2.5\n3,red,cow,yes,NA,3\n';
  datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json().id;
});
after(async () => t.close());

const post = (payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  t.app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

describe('jobs API', () => {
  it('queues a valid spec: 202, Location, state queued; the job is readable and listed', async () => {
    const res = await post({ datasetId, tasks: [{ name: 'label', type: 'classification' }, { name: 'flag', type: 'binary' }] });
    assert.equal(res.statusCode, 202, res.body);
    const { id, state, modelId } = res.json();
    assert.equal(state, 'queued');
    assert.match(modelId, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.location, `/v1/jobs/${id}`);
    const job = (await t.app.inject({ url: `/v1/jobs/${id}` })).json();
    assert.equal(job.state, 'queued');
    assert.deepEqual(job.progress, { epoch: 0, epochs: 20, percent: 0 });
    assert.deepEqual(job.history, []);
    assert.equal(job.modelId, null);
    const list = (await t.app.inject({ url: '/v1/jobs' })).json();
    assert.ok(list.jobs.some((j: { id: string }) => j.id === id));
  });

  it('refuses schema errors with 400, naming each field', async () => {
    const cases: [unknown, string][] = [
      [{ datasetId, tasks: [{ name: 'label', type: 'ranking' }] }, '/tasks/0/type'],
      [{ datasetId, tasks: [] }, '/tasks'],
      [{ tasks: [{ name: 'label', type: 'binary' }] }, '/datasetId'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], training: { epochs: 0 } }, '/training/epochs'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], training: { epochs: '5' } }, '/training/epochs'],
      [{ datasetId, tasks: [{ name: 'bad name!', type: 'binary' }] }, '/tasks/0/name'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], surprise: 1 }, '/surprise'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], architecture: { sharedLayers: ['64'] } }, '/architecture/sharedLayers/0'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], lossWeighting: { strategy: 'cagrad', c: 'half' } }, '/lossWeighting/c'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], lossWeighting: { strategy: 'mgda', normalization: 'l3' } }, '/lossWeighting/normalization'],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }], lossWeighting: { strategy: 'mtl-magic' } }, '/lossWeighting/strategy'],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary', dependsOn: 'label', mode: 'chain' }] }, '/tasks/0/mode'],
    ];
    for (const [body, pointer] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const pointers = res.json().errors.map((e: { pointer: string }) => e.pointer);
      assert.ok(pointers.includes(pointer), `${pointer} not in ${pointers}`);
    }
  });

  it('refuses malformed JSON and the wrong content type', async () => {
    const bad = await post('{"datasetId": ');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().status, 400);
    const csv = await post('a,b', { 'content-type': 'text/csv' });
    assert.equal(csv.statusCode, 415);
  });

  it('refuses, before queueing, a spec that does not fit its dataset (422, naming the field)', async () => {
    const before = (await t.app.inject({ url: '/v1/jobs' })).json().jobs.length;
    const cases: [unknown, string, RegExp][] = [
      [{ datasetId, tasks: [{ name: 'nope', type: 'binary' }] }, '/tasks/0/column', /no column 'nope'/],
      [{ datasetId, tasks: [{ name: 'e', column: 'empty', type: 'classification' }] }, '/tasks/0/column', /no values/],
      [{ datasetId, tasks: [{ name: 'label', type: 'binary' }] }, '/tasks/0/column', /3 distinct/],
      [{ datasetId, tasks: [{ name: 'p', column: 'colour', type: 'regression' }] }, '/tasks/0/column', /needs numbers/],
      [{ datasetId, features: [{ name: 'ghost' }], tasks: [{ name: 'flag', type: 'binary' }] }, '/features/0/name', /no column 'ghost'/],
      [{ datasetId: '00000000-0000-4000-8000-000000000000', tasks: [{ name: 'flag', type: 'binary' }] }, '/datasetId', /no dataset/],
      [{ datasetId: '../../etc/passwd', tasks: [{ name: 'flag', type: 'binary' }] }, '/datasetId', /no dataset/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary' }], lossWeighting: { strategy: 'cagrad', normalization: 'l2' } }, '/lossWeighting/normalization', /does not apply to the cagrad strategy; it takes c, rescale/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary' }], lossWeighting: { strategy: 'cagrad', c: 1 } }, '/lossWeighting/c', /less than 1/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary' }], lossWeighting: { strategy: 'nash-mtl', iterations: 0 } }, '/lossWeighting/iterations', /greater or equal to 1/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary' }], architecture: { sharedLayers: [-1] } }, '/architecture/sharedLayers/0', /greater or equal to 1/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary', dependsOn: 'ghost' }] }, '/tasks/0/dependsOn', /no task named 'ghost'/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary', mode: 'aitm' }] }, '/tasks/0/mode', /only to a task with dependsOn/],
      [{ datasetId, tasks: [{ name: 'flag', type: 'binary' }, { name: 'label', type: 'classification', dependsOn: 'flag' }] }, '/tasks/1/dependsOn', /only a binary task/],
    ];
    for (const [body, pointer, detail] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
      const err = res.json().errors.find((e: { pointer: string }) => e.pointer === pointer);
      assert.ok(err, `${pointer} in ${res.body}`);
      assert.match(err.detail, detail);
    }
    assert.equal((await t.app.inject({ url: '/v1/jobs' })).json().jobs.length, before, 'nothing was queued');
  });

  it('keeps problems small however big the bad spec: long keys cut, at most 50 field errors, no deep nesting', async () => {
    const longKey = await post({ datasetId, tasks: [{ name: 'label', type: 'classification' }], ['k'.repeat(900_000)]: 1 });
    assert.equal(longKey.statusCode, 400);
    assert.match(longKey.json().errors[0].pointer, /^\/k+…$/);
    assert.ok(longKey.body.length < 3000, `${longKey.body.length} bytes`);
    const many = await post({ datasetId, tasks: Array.from({ length: 400 }, (_, i) => ({ name: `t${i}`, type: 'ranking', weight: 'heavy' })) });
    assert.equal(many.statusCode, 400);
    assert.equal(many.json().errors.length, 50);
    assert.match(many.json().errors[49].detail, /and \d+ more errors/);
    assert.ok(many.body.length < 20_000, `${many.body.length} bytes`);
    const deep = await post(`{"datasetId": "${datasetId}", "tasks": [{"name": "label", "type": "classification"}], "architecture": ${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
    assert.equal(deep.statusCode, 400, deep.body.slice(0, 300));
    assert.match(deep.json().errors[0].pointer, /^\/architecture\/a\/a/);
  });

  it('answers 404 for an unknown job', async () => {
    const res = await t.app.inject({ url: '/v1/jobs/00000000-0000-4000-8000-000000000000' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().title, 'Not Found');
  });

  it('refuses to delete a dataset that a queued job uses (409), and keeps it', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${datasetId}` });
    assert.equal(res.statusCode, 409);
    assert.equal((await t.app.inject({ url: `/v1/datasets/${datasetId}` })).statusCode, 200);
  });

  it('Idempotency-Key: the same key and body give the same job; another body is a 422', async () => {
    const body = { datasetId, tasks: [{ name: 'flag', type: 'binary' }] };
    const key = { 'content-type': 'application/json', 'idempotency-key': `k-${Math.random()}` };
    const a = await post(body, key);
    const b = await post({ tasks: body.tasks, datasetId }, key); // same body, other key order
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.equal(b.json().id, a.json().id);
    assert.equal(b.json().modelId, a.json().modelId);
    const c = await post({ ...body, name: 'other' }, key);
    assert.equal(c.statusCode, 422);
    assert.equal(c.json().errors[0].pointer, '/headers/idempotency-key');
    const jobs = (await t.app.inject({ url: '/v1/jobs' })).json().jobs.filter((j: { id: string }) => j.id === a.json().id);
    assert.equal(jobs.length, 1, 'one job for the key');
  });

  it('cancels a queued job (no worker needed); cancelling again is a 409; its dataset can then go', async () => {
    const csv = 'x,flag\n1,yes\n2,no\n3,yes\n';
    const ds = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json().id;
    const { id } = (await post({ datasetId: ds, tasks: [{ name: 'flag', type: 'binary' }] })).json();
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().state, 'cancelled');
    assert.equal((await t.app.inject({ url: `/v1/jobs/${id}` })).json().state, 'cancelled');
    const again = await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    assert.equal(again.statusCode, 409);
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${ds}` })).statusCode, 204);
    assert.equal((await t.app.inject({ method: 'POST', url: '/v1/jobs/00000000-0000-4000-8000-000000000000/cancel' })).statusCode, 404);
  });

  it('a job read just before it failed still shows its reason (the hash is read again once the state is final)', async () => {
    const own = await createTestApp('jobs-race'); // its own queue: the worker below must take this job
    const connection = new Redis(own.redisUrl, { maxRetriesPerRequest: null });
    const worker = new Worker(TRAINING_QUEUE, null, { connection, prefix: own.config.QUEUE_PREFIX, autorun: false });
    try {
      const ds = (await own.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'x,flag\n1,yes\n2,no\n' })).json().id;
      const { id } = (await own.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: ds, tasks: [{ name: 'flag', type: 'binary' }] } })).json();
      const queue = own.services.trainingQueue;
      const stale = await queue.queue.getJob(id); // the hash as it was: not yet failed
      const token = 'race';
      const job = await worker.getNextJob(token);
      assert.equal(job?.id, id);
      await job!.moveToFailed(new UnrecoverableError('the dataset went away'), token, false);
      const view = await queue.viewOf(stale!);
      assert.equal(view.state, 'failed');
      assert.equal(view.error, 'the dataset went away');
      assert.ok(view.finishedAt);
    } finally {
      await worker.close();
      connection.disconnect();
      await own.close();
    }
  });

  it('logs and events of an unknown job are 404', async () => {
    assert.equal((await t.app.inject({ url: '/v1/jobs/00000000-0000-4000-8000-000000000000/logs' })).statusCode, 404);
    assert.equal((await t.app.inject({ url: '/v1/jobs/00000000-0000-4000-8000-000000000000/events' })).statusCode, 404);
  });

  it('closing the server ends live-progress streams (a SIGTERM drains the API)', { timeout: 15_000 }, async () => {
    const other = await createTestApp('jobs-close');
    try {
      const ds = (await other.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'x,flag\n1,yes\n2,no\n' })).json().id;
      const { id } = (await other.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: ds, tasks: [{ name: 'flag', type: 'binary' }] } })).json();
      const stream = other.app.inject({ url: `/v1/jobs/${id}/events` }); // the job stays queued: no worker
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await other.app.close();
      const res = await stream;
      assert.ok(Date.now() - started < 3000, 'closed promptly');
      assert.match(res.body, /event: state\ndata: \{"id":"[^"]+","state":"queued"/);
    } finally {
      await other.close();
    }
  });
});
