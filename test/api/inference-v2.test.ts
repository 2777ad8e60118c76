import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { requiredRole } from '../../src/api/plugins/auth.js';
import { ColumnInference, coerceCell } from '../../src/mtl/column-inference.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { exportArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { Row } from '../../src/mtl/values.js';
import { newId } from '../../src/shared/ids.js';
import { modelMetadataOf } from '../../src/store/model-metadata.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { assertSamePredictions, digitInstances, trainDigitsModel, type DigitsModel } from '../helpers/digits-model.js';
import { PIXELS } from '../helpers/digits.js';

/**
 * The Open Inference Protocol (v2) REST API, its responses validated against the protocol's own
 * published schemas (test/fixtures/open-inference-protocol), its answers compared with /v1's.
 */
const spec = JSON.parse(readFileSync(new URL('../fixtures/open-inference-protocol/open_inference_rest.schemas.json', import.meta.url), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(spec);
const validator = (name: string) => {
  const validate = ajv.getSchema(`${spec.$id}#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name}`);
  return (value: unknown, what = name) => assert.ok(validate(value), `${what} breaks the protocol's ${name} schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`);
};
const isInferenceRequest = validator('inference_request');
const isInferenceResponse = validator('inference_response');
const isInferenceError = validator('inference_error_response');
const isModelMetadata = validator('metadata_model_response');
const isModelMetadataError = validator('metadata_model_error_response');
const isServerMetadata = validator('metadata_server_response');

let t: TestApp;
let v1: DigitsModel;
let v2: DigitsModel;
let pets: { dispose: () => void };

/** A small model with a categorical input and a multilabel task, so BYTES inputs and [N, L] multilabel outputs are covered. */
async function savePetsModel(app: TestApp) {
  const header = ['x', 'colour', 'animal', 'tags', 'weight'];
  const colours = ['red', 'green', 'blue'];
  const raw = Array.from({ length: 240 }, (_, i) => {
    const colour = colours[i % 3];
    const x = ((i * 37) % 100) / 10;
    return { x: String(x), colour, animal: colour === 'red' ? 'cat' : 'dog', tags: x > 5 ? 'big|loud' : 'small', weight: String(x * 2 + (colour === 'blue' ? 3 : 0)) };
  });
  const inference = new ColumnInference(header);
  raw.forEach((r) => inference.add(r));
  const columns = inference.columns();
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const rows: Row[] = raw.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, coerceCell(types.get(k)!, v)])));
  const resolved = resolveSpec(
    {
      name: 'pets',
      datasetId: 'pets',
      features: [{ name: 'x' }, { name: 'colour', type: 'categorical' }],
      tasks: [{ name: 'animal', type: 'classification' }, { name: 'tags', type: 'multilabel' }, { name: 'weight', type: 'regression' }],
      architecture: { sharedLayers: [8] },
      training: { epochs: 2, seed: 3 },
    },
    { id: 'pets', name: 'pets', rows: rows.length, columns },
  );
  const trained = await trainOnRows(resolved, rows);
  await app.services.models.save(modelMetadataOf({ id: newId(), jobId: newId(), spec: resolved, trained, backend: 'test' }), await exportArtifacts(trained.model.serving));
  return { dispose: () => disposeModel(trained.model) };
}

before(async () => {
  t = await createTestApp('inference-v2', { PREDICT_MAX_ROWS: '40', PREDICT_MAX_BODY_BYTES: '131072', PREDICT_MAX_BATCH: '16', PREDICT_MAX_DELAY_MS: '20' });
  v1 = await trainDigitsModel({ name: 'digits', seed: 1 });
  v2 = await trainDigitsModel({ name: 'digits', seed: 2 });
  await t.services.models.save(v1.metadata, v1.artifacts);
  await t.services.models.save(v2.metadata, v2.artifacts);
  pets = await savePetsModel(t);
});
after(async () => {
  v1.dispose();
  v2.dispose();
  pets.dispose();
  await t.close();
});

/** Instances as one v2 tensor per feature: [N] FP32 (or [N, 1] with nested data). */
function tensors(instances: Row[], { nested = false, datatype = 'FP32' }: { nested?: boolean; datatype?: string } = {}) {
  return PIXELS.map((name) => ({
    name,
    shape: nested ? [instances.length, 1] : [instances.length],
    datatype,
    data: instances.map((r) => (nested ? [r[name]] : r[name])),
  }));
}

const infer = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: `/v2/models/${path}/infer`, payload: body as object, headers });
const get = (url: string) => t.app.inject({ url });

/** The /v1 answer for the same rows, as the [N, L] data the v2 outputs should carry. */
function v1AsTensors(predictions: Record<string, any>[]) {
  return {
    digit: predictions.flatMap((p) => Object.values(p.digit.probabilities as Record<string, number>)),
    parity: predictions.flatMap((p) => [p.parity.probabilities.even, p.parity.probabilities.odd]),
    value: predictions.map((p) => p.value.value),
  };
}

function assertClose(actual: number[], expected: number[], what: string) {
  assert.equal(actual.length, expected.length, what);
  assertSamePredictions(actual, expected, 1e-5, what);
}

function assertV2Error(res: { statusCode: number; headers: Record<string, unknown>; json: () => any }, status: number, pattern: RegExp) {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  assert.match(String(res.headers['content-type']), /^application\/json/, 'the protocol\'s error object, not problem+json');
  const body = res.json();
  isInferenceError(body);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.match(body.error, pattern);
}

describe('Open Inference Protocol v2: health and metadata', () => {
  it('answers server live, ready and metadata', async () => {
    assert.deepEqual((await get('/v2/health/live')).json(), { live: true });
    const ready = await get('/v2/health/ready');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { live: true, ready: true });
    for (const url of ['/v2', '/v2/']) {
      const meta = (await get(url)).json();
      isServerMetadata(meta);
      assert.deepEqual(meta, { name: 'mtl-service', version: '0.1.0', extensions: [] });
    }
  });

  it('describes a model: features as inputs, tasks as outputs with their labels, its versions', async () => {
    const res = await get('/v2/models/digits');
    assert.equal(res.statusCode, 200);
    const meta = res.json();
    isModelMetadata(meta);
    assert.equal(meta.name, 'digits');
    assert.deepEqual(meta.versions, ['1', '2']);
    assert.equal(meta.platform, 'tensorflowjs_layers');
    assert.deepEqual(meta.inputs.map((i: any) => i.name), PIXELS);
    assert.deepEqual(meta.inputs[0], { name: 'p0', datatype: 'FP32', shape: [-1], parameters: { feature_type: 'numeric' } });
    assert.deepEqual(meta.outputs, [
      { name: 'digit', datatype: 'FP32', shape: [-1, 10], parameters: { task_type: 'classification', labels: '[0,1,2,3,4,5,6,7,8,9]' } },
      { name: 'parity', datatype: 'FP32', shape: [-1, 2], parameters: { task_type: 'binary', labels: '["even","odd"]' } },
      { name: 'value', datatype: 'FP32', shape: [-1, 1], parameters: { task_type: 'regression' } },
    ]);
    const pets = (await get('/v2/models/pets')).json();
    isModelMetadata(pets);
    assert.deepEqual(pets.inputs[1], { name: 'colour', datatype: 'BYTES', shape: [-1], parameters: { feature_type: 'categorical' } });
    assert.deepEqual(pets.outputs[1], { name: 'tags', datatype: 'FP32', shape: [-1, 3], parameters: { task_type: 'multilabel', labels: '["big","loud","small"]' } });
    for (const url of ['/v2/models/digits/versions/1', '/v2/models/digits@1']) isModelMetadata((await get(url)).json(), url);
  });

  it('says a model is ready (loading it), and answers unknown models with a 404 error object', async () => {
    for (const url of ['/v2/models/digits/ready', '/v2/models/digits/versions/2/ready']) assert.deepEqual((await get(url)).json(), { name: 'digits', ready: true }, url);
    for (const url of ['/v2/models/nothing', '/v2/models/nothing/ready', '/v2/models/digits/versions/7']) {
      const res = await get(url);
      assert.equal(res.statusCode, 404, url);
      isModelMetadataError(res.json());
      assert.match(res.json().error, /no model/);
    }
    const bad = await get('/v2/models/digits/versions/1.5');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /neither a version number nor an alias/);
  });
});

describe('Open Inference Protocol v2: infer', () => {
  it('answers one output tensor per task with the same numbers as /v1, echoing the id', async () => {
    const instances = digitInstances(20, 5);
    const request = { id: 'req-42', inputs: tensors(instances) };
    isInferenceRequest(request, 'the test request');
    const res = await infer('digits', request);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    isInferenceResponse(body);
    assert.equal(body.id, 'req-42');
    assert.equal(body.model_name, 'digits');
    assert.equal(body.model_version, '2');
    assert.equal(body.parameters.model_id, v2.metadata.id);
    assert.deepEqual(body.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [['digit', 'FP32', [5, 10]], ['parity', 'FP32', [5, 2]], ['value', 'FP32', [5, 1]]]);
    const viaV1 = v1AsTensors((await t.app.inject({ method: 'POST', url: '/v1/models/digits/predict', payload: { instances } })).json().predictions);
    for (const out of body.outputs) assertClose(out.data, viaV1[out.name as keyof typeof viaV1], out.name);
    const alone = v1AsTensors(v2.predictAlone(instances) as Record<string, any>[]);
    for (const out of body.outputs) assertClose(out.data, alone[out.name as keyof typeof alone], `${out.name} (engine alone)`);
    assert.equal((await infer('digits', { inputs: tensors(instances) })).json().id, undefined, 'no id asked, none sent');
  });

  it('takes [N, 1] tensors with nested data, and FP64, INT32 and UINT8 data', async () => {
    const instances = digitInstances(60, 3);
    const flat = (await infer('digits', { inputs: tensors(instances) })).json();
    for (const variant of [{ nested: true }, { datatype: 'FP64' }, { datatype: 'INT32' }, { datatype: 'UINT8', nested: true }]) {
      const request = { inputs: tensors(instances, variant) };
      isInferenceRequest(request);
      const res = await infer('digits', request);
      assert.equal(res.statusCode, 200, `${JSON.stringify(variant)}: ${res.body}`);
      assert.deepEqual(res.json().outputs, flat.outputs, JSON.stringify(variant));
    }
  });

  it('returns only the outputs asked for, in that order', async () => {
    const instances = digitInstances(5, 4);
    const all = (await infer('digits', { inputs: tensors(instances) })).json();
    const res = await infer('digits', { inputs: tensors(instances), outputs: [{ name: 'value' }, { name: 'digit' }] });
    const body = res.json();
    isInferenceResponse(body);
    assert.deepEqual(body.outputs.map((o: any) => o.name), ['value', 'digit']);
    assert.deepEqual(body.outputs[0], all.outputs[2]);
    assertClose(body.outputs[1].data, all.outputs[0].data, 'digit');
  });

  it('serves versions and aliases: /versions/{n}, /versions/{alias}, name@version', async () => {
    const instances = digitInstances(7, 2);
    const one = (await infer('digits/versions/1', { inputs: tensors(instances) })).json();
    assert.equal(one.model_version, '1');
    assert.equal(one.parameters.model_id, v1.metadata.id);
    assertClose(one.outputs[2].data, (v1.predictAlone(instances) as any[]).map((p) => p.value.value), 'value of version 1');
    assert.equal((await t.app.inject({ method: 'PUT', url: '/v1/models/digits/aliases/stable', payload: { version: 1 } })).statusCode, 200);
    assert.equal((await infer('digits/versions/stable', { inputs: tensors(instances) })).json().model_version, '1');
    assert.equal((await infer('digits@stable', { inputs: tensors(instances) })).json().model_version, '1');
    assert.equal((await infer('digits@2', { inputs: tensors(instances) })).json().model_version, '2');
    assertV2Error(await infer('digits/versions/9', { inputs: tensors(instances) }), 404, /digits@9/);
    assertV2Error(await infer('digits/versions/nope', { inputs: tensors(instances) }), 404, /no alias 'nope' of model 'digits'/);
  });

  it('shares forward passes between concurrent requests, each getting its own rows', async () => {
    const requests = Array.from({ length: 24 }, (_, i) => digitInstances(100 + i * 4, 1 + (i % 3)));
    const responses = await Promise.all(requests.map((instances) => infer(v1.metadata.id, { inputs: tensors(instances) })));
    responses.forEach((res, i) => {
      assert.equal(res.statusCode, 200);
      const want = v1AsTensors(v1.predictAlone(requests[i]) as Record<string, any>[]);
      for (const out of res.json().outputs) assertClose(out.data, want[out.name as keyof typeof want], `request ${i} ${out.name}`);
    });
    const { stats } = (await t.services.modelCache.get(v1.metadata.id)).batcher;
    assert.ok(stats.largestPass > 3 && stats.largestPass <= 16, `requests shared passes (largest ${stats.largestPass} rows)`);
  });

  it('takes categorical features as BYTES, null as a missing value, and answers multilabel tasks as [N, L] probabilities', async () => {
    const instances = [
      { x: 1.5, colour: 'red' },
      { x: 7, colour: 'blue' },
      { x: null, colour: null },
      { x: 3, colour: 'purple' },
    ];
    const request = {
      inputs: [
        { name: 'x', shape: [4], datatype: 'FP32', data: instances.map((r) => r.x) },
        { name: 'colour', shape: [4, 1], datatype: 'BYTES', data: instances.map((r) => [r.colour]) },
      ],
    };
    const res = await infer('pets', request);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    isInferenceResponse(body);
    const viaV1 = (await t.app.inject({ method: 'POST', url: '/v1/models/pets/predict', payload: { instances } })).json().predictions;
    assert.deepEqual(body.outputs.map((o: any) => [o.name, o.shape]), [['animal', [4, 2]], ['tags', [4, 3]], ['weight', [4, 1]]]);
    assertClose(body.outputs[0].data, viaV1.flatMap((p: any) => [p.animal.probabilities.cat, p.animal.probabilities.dog]), 'animal');
    assertClose(body.outputs[1].data, viaV1.flatMap((p: any) => [p.tags.probabilities.big, p.tags.probabilities.loud, p.tags.probabilities.small]), 'tags');
    assertClose(body.outputs[2].data, viaV1.map((p: any) => p.weight.value), 'weight');
  });
});

describe('Open Inference Protocol v2: errors are {"error": "…"}', () => {
  const some = digitInstances(0, 2);
  it('names missing, unknown, repeated and mistyped inputs, and mismatched shapes', async () => {
    assertV2Error(await infer('digits', { inputs: tensors(some).slice(1) }), 400, /missing input 'p0'/);
    assertV2Error(await infer('digits', { inputs: [...tensors(some), { name: 'p64', shape: [2], datatype: 'FP32', data: [1, 2] }] }), 400, /unknown input 'p64'/);
    assertV2Error(await infer('digits', { inputs: [...tensors(some), tensors(some)[3]] }), 400, /input 'p3' is given twice/);
    const byName = (change: (t: any) => void, name = 'p5') => tensors(some).map((x) => (x.name === name ? (change(x), x) : x));
    assertV2Error(await infer('digits', { inputs: byName((x) => (x.datatype = 'BYTES')) }), 400, /input 'p5' is a numeric feature: send it as FP32/);
    assertV2Error(await infer('digits', { inputs: byName((x) => (x.data = [1, 'dark'])) }), 400, /input 'p5' element 1: not a FP32 value \("dark"\)/);
    assertV2Error(await infer('digits', { inputs: byName((x) => ((x.datatype = 'INT32'), (x.data = [1, 2.5]))) }), 400, /element 1: not a INT32 value/);
    assertV2Error(await infer('digits', { inputs: byName((x) => (x.shape = [3])) }), 400, /input 'p5' has 3 rows, input 'p0' 2/);
    assertV2Error(await infer('digits', { inputs: byName((x) => (x.shape = [2, 2])) }), 400, /shape \[2,2\]; each feature is a tensor of shape \[N\] or \[N, 1\]/);
    assertV2Error(await infer('digits', { inputs: byName((x) => (x.data = [1])) }), 400, /input 'p5': data must hold 2 values/);
    assertV2Error(await infer('pets', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }, { name: 'colour', shape: [1], datatype: 'FP32', data: [1] }] }), 400, /categorical feature: send it as BYTES/);
  });

  it('names unknown or repeated outputs, and refuses bodies that break the request schema or are not JSON', async () => {
    assertV2Error(await infer('digits', { inputs: tensors(some), outputs: [{ name: 'colour' }] }), 400, /unknown output 'colour'; the model's outputs are its tasks: digit, parity, value/);
    assertV2Error(await infer('digits', { inputs: tensors(some), outputs: [{ name: 'digit' }, { name: 'digit' }] }), 400, /output 'digit' is asked for twice/);
    assertV2Error(await infer('digits', { instances: some }), 400, /must have required property 'inputs'/);
    assertV2Error(await infer('digits', { inputs: [] }), 400, /inputs/);
    assertV2Error(await infer('digits', '{"inputs": [', { 'content-type': 'application/json' }), 400, /JSON/);
    assertV2Error(await infer('digits', { inputs: tensors(some) }, { 'inference-header-content-length': '12' }), 400, /binary tensor data extension is not supported/);
  });

  it('keeps /v1\'s limits: 413 over PREDICT_MAX_ROWS rows or PREDICT_MAX_BODY_BYTES, 404 for unknown models', async () => {
    assertV2Error(await infer('digits', { inputs: tensors(digitInstances(0, 41)) }), 413, /at most 40 rows per request, got 41/);
    assertV2Error(await infer('digits', { inputs: tensors(some), id: 'x'.repeat(140_000) }), 413, /larger than the limit of 131072 bytes/);
    assertV2Error(await infer('nothing', { inputs: tensors(some) }), 404, /no model named 'nothing'/);
    assertV2Error(await infer('00000000-0000-4000-8000-000000000000', { inputs: tensors(some) }), 404, /no model/);
  });

  it('needs a predict key for everything but its health checks', () => {
    const opts = { docsPublic: true, metricsPublic: false };
    assert.equal(requiredRole('GET', '/v2/health/live', opts), 'public');
    assert.equal(requiredRole('GET', '/v2/health/ready', opts), 'public');
    for (const [method, route] of [['GET', '/v2'], ['GET', '/v2/models/:name'], ['GET', '/v2/models/:name/versions/:version/ready'], ['POST', '/v2/models/:name/infer'], ['POST', '/v2/models/:name/versions/:version/infer']])
      assert.equal(requiredRole(method, route, opts), 'predict', `${method} ${route}`);
  });
});

