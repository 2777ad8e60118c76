import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { newId } from '../../src/shared/ids.js';
import { modelMetadataOf } from '../../src/store/model-metadata.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

let t: TestApp;
const modelId = newId();
const { rows, summary } = loadDigits();
const instances = rows.slice(0, 40).map((r) => Object.fromEntries(PIXELS.map((p) => [p, r[p]])));
let expected: ReturnType<typeof predictInstances>;

/** A model made by the engine and saved by the store, as the worker would (the worker is tested end to end elsewhere). */
before(async () => {
  t = await createTestApp('models');
  const spec = resolveSpec({ datasetId: 'digits', features: PIXELS.map((name) => ({ name })), tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'value', type: 'regression' }], architecture: { sharedLayers: [32] }, training: { epochs: 8, learningRate: 0.003 } }, summary);
  const trained = await trainOnRows(spec, rows.slice(200));
  expected = predictInstances(trained.model.serving, trained.preprocessing, instances);
  const metadata = modelMetadataOf({ id: modelId, jobId: newId(), spec, trained, backend: 'test' });
  await t.services.models.save(metadata, await exportArtifacts(trained.model.serving));
  disposeModel(trained.model);
});
after(async () => t.close());

const predict = (id: string, payload: unknown) => t.app.inject({ method: 'POST', url: `/v1/models/${id}/predict`, payload: payload as object });

describe('models API', () => {
  it('lists and shows a model with tasks, label sets and metrics', async () => {
    const list = (await t.app.inject({ url: '/v1/models' })).json();
    assert.equal(list.models.length, 1);
    assert.equal(list.models[0].preprocessing, undefined, 'the list leaves out the preprocessing state');
    const model = (await t.app.inject({ url: `/v1/models/${modelId}` })).json();
    assert.deepEqual(model.tasks.map((x: { name: string }) => x.name), ['digit', 'parity', 'value']);
    assert.deepEqual(model.tasks[1].labels, ['even', 'odd']);
    assert.ok(model.metrics.digit.accuracy > 0.5);
    assert.ok(model.preprocessing.features.length === 64);
  });

  it('predicts every task for each instance, the same as the engine before saving', async () => {
    const res = await predict(modelId, { instances });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.modelId, modelId);
    assert.equal(body.predictions.length, instances.length);
    for (let i = 0; i < instances.length; i++) {
      const got = body.predictions[i];
      const want = expected[i] as Record<string, { label?: unknown; value?: number; probabilities?: Record<string, number> }>;
      assert.equal(got.digit.label, want.digit.label);
      assert.equal(typeof got.digit.label, 'number', 'labels come back as written in the dataset');
      assert.equal(got.parity.label, want.parity.label);
      assert.ok(Math.abs(got.parity.probabilities.odd - want.parity.probabilities!.odd) < 1e-6);
      assert.ok(Math.abs(got.value.value - want.value.value!) < 1e-4);
    }
  });

  it('refuses bad predict requests with a 4xx naming the field', async () => {
    const missing = await predict(modelId, { instances: [instances[0], { p0: 1 }] });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().errors[0].pointer, '/instances/1/p1');
    const notNumber = await predict(modelId, { instances: [{ ...instances[0], p5: 'dark' }] });
    assert.equal(notNumber.statusCode, 400);
    assert.equal(notNumber.json().errors[0].pointer, '/instances/0/p5');
    const empty = await predict(modelId, { instances: [] });
    assert.equal(empty.statusCode, 400);
    assert.equal(empty.json().errors[0].pointer, '/instances');
    const noInstances = await predict(modelId, { rows: [] });
    assert.equal(noInstances.statusCode, 400);
    const unknown = await predict('00000000-0000-4000-8000-000000000000', { instances });
    assert.equal(unknown.statusCode, 404);
  });

  it('deletes a model, after which it is 404 everywhere', async () => {
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/models/${modelId}` })).statusCode, 204);
    assert.equal((await t.app.inject({ url: `/v1/models/${modelId}` })).statusCode, 404);
    assert.equal((await predict(modelId, { instances })).statusCode, 404);
    assert.equal(t.services.modelCache.size, 0);
  });
});

describe('health and docs', () => {
  it('answers live and ready (Redis and store reachable, backend named)', async () => {
    assert.deepEqual((await t.app.inject({ url: '/health/live' })).json(), { status: 'ok' });
    const ready = await t.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().status, 'ready');
    assert.equal(ready.json().backend, t.services.backend);
  });

  it('serves Swagger UI and the OpenAPI document with every route', async () => {
    const ui = await t.app.inject({ url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    for (const path of ['/v1/datasets', '/v1/datasets/{id}', '/v1/jobs', '/v1/jobs/{id}', '/v1/models', '/v1/models/{id}', '/v1/models/{id}/predict', '/health/live', '/health/ready'])
      assert.ok(doc.paths[path], `${path} documented`);
    assert.ok(doc.paths['/v1/datasets'].post.requestBody.content['text/csv']);
  });

  it('answers unknown routes with a problem', async () => {
    const res = await t.app.inject({ url: '/v2/nothing' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  });
});
