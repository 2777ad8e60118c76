import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMtlClient, MtlApiError, type JobEvent, type MtlClient } from '../../clients/typescript/src/index.js';
import { loadConfig } from '../../src/config.js';
import { startApi } from '../../src/api/start-api.js';
import type { App } from '../../src/api/app.js';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testApiRoot } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { DIGITS_CSV, PIXELS } from '../helpers/digits.js';

/**
 * The typed TypeScript client (clients/typescript) against a running service on a free port, with
 * Redis and a worker process: datasets, a job followed through its SSE events, models, aliases,
 * predict, export/import and the v2 protocol. The test compiles against the generated types, so
 * `npm run typecheck` also checks that the client and the OpenAPI document agree.
 */
let redis: RedisEndpoint;
let app: App;
let worker: WorkerProcess;
let client: MtlClient;
let dataDir: string;

const [header, ...lines] = readFileSync(DIGITS_CSV, 'utf8').trim().split('\n');
const columns = header.split(',');
const instances = lines.slice(1500, 1510).map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i], Number(v)]).filter(([k]) => PIXELS.includes(k as string))));
const state: { datasetId?: string; jobId?: string; modelId?: string } = {};

before(async () => {
  redis = await testRedis();
  dataDir = mkdtempSync(join(tmpdir(), 'mtl-client-'));
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('client'), DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '30000' }; // not a load-shedding test: a busy machine must not turn its calls into 503s
  app = await startApi(testApiRoot(loadConfig(env), redis.url));
  client = createMtlClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` });
  worker = startWorkerProcess({ ...env, LOG_LEVEL: 'info' });
});

after(async () => {
  await worker?.stop();
  await obliterateTrainingQueue(redis.url, app.services.config.QUEUE_PREFIX).catch(() => undefined);
  await app.close();
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('typed TypeScript client against a running service', { timeout: 240_000 }, () => {
  it('uploads, lists and reads datasets', async () => {
    const dataset = await client.datasets.upload([header, ...lines.slice(0, 600)].join('\n') + '\n', { name: 'digits' });
    assert.equal(dataset.rows, 600);
    assert.equal(dataset.columns.find((c) => c.name === 'parity')?.type, 'categorical');
    state.datasetId = dataset.id;
    assert.ok((await client.datasets.list()).some((d) => d.id === dataset.id));
    assert.equal((await client.datasets.get(dataset.id)).name, 'digits');
    const ndjson = await client.datasets.upload('{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n', { name: 'tiny', format: 'ndjson' });
    assert.equal(ndjson.rows, 2);
    await client.datasets.delete(ndjson.id);
    await assert.rejects(client.datasets.get(ndjson.id), (err: MtlApiError) => err.status === 404 && err.problem?.type === 'urn:mtl:problem:not-found');
  });

  it('queues a job and follows it through its Server-Sent Events with an async iterator', async () => {
    const accepted = await client.jobs.create({
      name: 'digits-client',
      datasetId: state.datasetId!,
      features: PIXELS.map((name) => ({ name })),
      tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'value', type: 'regression' }],
      architecture: { type: 'hard-sharing', sharedLayers: [32] },
      training: { epochs: 4, learningRate: 0.003, earlyStopping: false },
    });
    assert.equal(accepted.state, 'queued');
    state.jobId = accepted.id;
    const events: JobEvent[] = [];
    for await (const event of client.jobs.events(accepted.id)) events.push(event);
    const epochs = events.filter((e) => e.type === 'epoch');
    assert.deepEqual(epochs.map((e) => e.id), [1, 2, 3, 4], 'every epoch once, in order');
    for (const e of epochs) if (e.type === 'epoch') assert.equal(typeof e.data.tasks.digit.loss, 'number');
    assert.equal(events[0].type, 'state');
    const end = events.at(-1)!;
    assert.equal(end.type, 'end');
    if (end.type === 'end') {
      assert.equal(end.data.state, 'succeeded', end.data.error ?? '');
      state.modelId = end.data.modelId!;
    }
    const resumed: JobEvent[] = [];
    for await (const event of client.jobs.events(accepted.id, { lastEventId: 2 })) resumed.push(event);
    assert.deepEqual(resumed.filter((e) => e.type === 'epoch').map((e) => e.type === 'epoch' && e.id), [3, 4], 'Last-Event-ID: only the epochs after it');
    const job = await client.jobs.get(accepted.id);
    assert.equal(job.state, 'succeeded');
    assert.equal(job.history.length, 4);
    assert.ok((await client.jobs.list()).some((j) => j.id === accepted.id));
    assert.ok((await client.jobs.logs(accepted.id)).logs.length > 0);
    assert.equal((await client.jobs.wait(accepted.id)).modelId, state.modelId);
  });

  it('reads models, predicts (all tasks or some), moves aliases, exports and imports', async () => {
    const model = await client.models.get('digits-client');
    assert.equal(model.id, state.modelId);
    assert.equal(model.version, 1);
    assert.deepEqual(model.tasks.map((t) => t.name), ['digit', 'parity', 'value']);
    assert.equal((await client.models.list({ name: 'digits-client' })).length, 1);

    const all = await client.models.predict('digits-client', instances);
    assert.equal(all.predictions.length, instances.length);
    const some = await client.models.predict('digits-client@1', instances, { tasks: ['parity'] });
    assert.deepEqual(Object.keys(some.predictions[0]), ['parity']);
    assert.deepEqual(some.predictions.map((p) => p.parity), all.predictions.map((p) => p.parity));

    const archive = await client.models.exportArchive('digits-client');
    assert.deepEqual([...archive.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    const imported = await client.models.importArchive(archive);
    assert.equal(imported.version, 2);
    assert.deepEqual((await client.models.predict(imported.id, instances)).predictions, all.predictions, 'the import predicts identically');

    assert.deepEqual(await client.models.setAlias('digits-client', 'prod', 1), { name: 'digits-client', alias: 'prod', version: 1, modelId: state.modelId! });
    assert.equal((await client.models.predict('digits-client@prod', instances)).modelId, state.modelId);
    assert.deepEqual((await client.models.aliases('digits-client')).aliases, [{ alias: 'prod', version: 1, modelId: state.modelId! }]);
    assert.deepEqual((await client.models.get('digits-client@prod')).aliases, ['prod']);
    await client.models.setAlias('digits-client', 'prod', 2);
    assert.equal((await client.models.predict('digits-client@prod', instances)).modelId, imported.id);
    await client.models.deleteAlias('digits-client', 'prod');
    await assert.rejects(client.models.predict('digits-client@prod', instances), (err: MtlApiError) => err.status === 404 && /no alias 'prod'/.test(err.message));
    await client.models.delete(imported.id);
    assert.equal((await client.models.get('digits-client')).id, state.modelId);
  });

  it('speaks the Open Inference Protocol v2, with its error objects', async () => {
    const meta = await client.inference.metadata('digits-client');
    assert.deepEqual(meta.outputs.map((o) => o.name), ['digit', 'parity', 'value']);
    const res = await client.inference.infer(
      'digits-client',
      { id: 'c-1', inputs: PIXELS.map((name) => ({ name, shape: [instances.length], datatype: 'FP32', data: instances.map((r) => r[name]) })), outputs: [{ name: 'value' }] },
      { version: 1 },
    );
    assert.equal(res.id, 'c-1');
    assert.equal(res.model_version, '1');
    assert.deepEqual(res.outputs[0].shape, [instances.length, 1]);
    const v1 = await client.models.predict('digits-client@1', instances, { tasks: ['value'] });
    res.outputs[0].data.forEach((v, i) => assert.ok(Math.abs(v - (v1.predictions[i].value as { value: number }).value) < 1e-5));
    await assert.rejects(client.inference.infer('digits-client', { inputs: [] }), (err: MtlApiError) => err.status === 400 && typeof err.body === 'object' && err.body !== null && 'error' in err.body);
  });
});
