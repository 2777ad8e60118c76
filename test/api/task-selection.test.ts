import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HeadBatchers } from '../../src/api/head-batchers.js';
import { PredictBatcher } from '../../src/api/predict-batcher.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { tf } from '../helpers/backend.js';
import { assertSamePredictions, digitInstances, trainDigitsModel, type DigitsModel } from '../helpers/digits-model.js';

/** POST /v1/models/{ref}/predict with "tasks": only those tasks, from a sub-model that computes only their heads. */
let t: TestApp;
let m: DigitsModel;
let baseline: number;

before(async () => {
  t = await createTestApp('task-selection', { PREDICT_MAX_DELAY_MS: '20', PREDICT_MAX_BATCH: '64' });
  m = await trainDigitsModel({ name: 'digits' });
  await t.services.models.save(m.metadata, m.artifacts);
  baseline = tf.memory().numTensors;
});
after(async () => {
  m.dispose();
  await t.close();
});

const predict = (payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/models/digits/predict', payload: payload as object });

describe('task selection on /v1', () => {
  it('returns only the tasks asked for, in that order, with the same numbers as the whole model', async () => {
    const instances = digitInstances(10, 6);
    const all = m.predictAlone(instances);
    for (const tasks of [['value', 'digit'], ['parity'], ['digit', 'parity', 'value']]) {
      const res = await predict({ instances, tasks });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      body.predictions.forEach((p: Record<string, unknown>, i: number) => {
        assert.deepEqual(Object.keys(p), tasks);
        assertSamePredictions(p, Object.fromEntries(tasks.map((task) => [task, all[i][task]])), 1e-5, `row ${i}`);
      });
    }
  });

  it('does not compute the heads not asked for', async () => {
    const model = await t.services.modelCache.resolve('digits');
    const calls = { digit: 0, parity: 0, value: 0 };
    for (const task of Object.keys(calls) as (keyof typeof calls)[]) {
      const layer = model.serving.getLayer(`${task}_logits`);
      const call = layer.call.bind(layer);
      layer.call = (inputs, kwargs) => (calls[task]++, call(inputs, kwargs));
    }
    try {
      assert.equal((await predict({ instances: digitInstances(0, 3), tasks: ['parity'] })).statusCode, 200);
      assert.deepEqual(calls, { digit: 0, parity: 1, value: 0 });
      assert.equal((await predict({ instances: digitInstances(0, 3) })).statusCode, 200);
      assert.deepEqual(calls, { digit: 1, parity: 2, value: 1 }, 'without tasks, every head (one pass)');
    } finally {
      for (const task of Object.keys(calls)) delete (model.serving.getLayer(`${task}_logits`) as { call?: unknown }).call;
    }
  });

  it('joins concurrent requests for the same tasks into shared passes, apart from requests for other tasks', async () => {
    const model = await t.services.modelCache.resolve('digits');
    const before = model.batcher.stats.passes;
    const requests = Array.from({ length: 24 }, (_, i) => ({ instances: digitInstances(i * 3, 2), tasks: i % 2 ? ['digit'] : ['value', 'parity'] }));
    const responses = await Promise.all(requests.map((r) => predict(r)));
    responses.forEach((res, i) => {
      assert.equal(res.statusCode, 200);
      const want = m.predictAlone(requests[i].instances);
      res.json().predictions.forEach((p: Record<string, unknown>, r: number) =>
        assertSamePredictions(p, Object.fromEntries(requests[i].tasks.map((task) => [task, want[r][task]]))),
      );
    });
    assert.equal(model.batcher.stats.passes, before, 'the whole model did not run');
    const digitOnly = model.batcherFor([0]).batcher.stats;
    const valueParity = model.batcherFor([1, 2]).batcher.stats;
    assert.equal(digitOnly.rows + valueParity.rows >= 48, true);
    assert.ok(digitOnly.largestPass > 2 && valueParity.largestPass > 2, `passes were shared (${digitOnly.largestPass}, ${valueParity.largestPass} rows)`);
  });

  it('refuses an unknown task with a 400 naming it, and an empty or repeated list', async () => {
    const res = await predict({ instances: digitInstances(0, 1), tasks: ['digit', 'colour'] });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = res.json();
    assert.equal(problem.errors[0].pointer, '/tasks/1');
    assert.match(problem.detail, /no task 'colour'; its tasks are digit, parity, value/);
    assert.equal((await predict({ instances: digitInstances(0, 1), tasks: [] })).statusCode, 400);
    assert.equal((await predict({ instances: digitInstances(0, 1), tasks: ['digit', 'digit'] })).statusCode, 400);
  });

  it('frees the sub-models with the model: no tensor left after eviction', async () => {
    t.services.modelCache.clear();
    await t.services.modelCache.settled();
    assert.equal(tf.memory().numTensors, baseline);
  });
});

describe('HeadBatchers', () => {
  it('gives at most maxSubsets task sets a sub-model; further sets run on the whole model', () => {
    const input = tf.input({ shape: [2] });
    const outs = [1, 2, 3].map((u, i) => tf.layers.dense({ units: u, name: `h${i}` }).apply(input) as tf.SymbolicTensor);
    const serving = tf.model({ inputs: input, outputs: outs });
    const make = (forward: ConstructorParameters<typeof PredictBatcher>[0]['forward']) => new PredictBatcher({ forward, inputSize: 2, maxBatch: 8, maxDelayMs: 0 });
    const all = make(() => []);
    const heads = new HeadBatchers({ serving, inputSize: 2, all, make, maxSubsets: 1 });
    const first = heads.for([1]);
    assert.deepEqual(first.heads, [1]);
    assert.notEqual(first.batcher, all);
    assert.equal(heads.for([1]), first, 'kept');
    assert.equal(heads.for([0, 2]).batcher, all, 'over the limit: the whole model');
    assert.deepEqual(heads.for([0, 2]).heads, [0, 1, 2]);
    assert.equal(heads.for([0, 1, 2]).batcher, all);
    heads.close();
    assert.ok(first.batcher.isClosed);
    serving.dispose();
  });
});
