import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { join } from 'node:path';
import { createStores } from '../../src/composition-root.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { assertSamePredictions, digitInstances, trainDigitsModel, type DigitsModel } from '../helpers/digits-model.js';
import { CLICK_FEATURES, clickConversionRows } from '../helpers/click-conversion.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { newId } from '../../src/shared/ids.js';
import { modelMetadataOf } from '../../src/store/model-metadata.js';

/**
 * Serving under concurrency: micro-batched requests each get their own answer, the same as the
 * engine predicting them alone; bad requests fail alone; limits; versions by name.
 */
let t: TestApp;
let v1: DigitsModel;
let v2: DigitsModel;

before(async () => {
  t = await createTestApp('predict', {
    PREDICT_MAX_ROWS: '40',
    PREDICT_MAX_BODY_BYTES: '65536',
    PREDICT_MAX_BATCH: '16',
    PREDICT_MAX_DELAY_MS: '20',
    MODEL_CACHE_RECHECK_MS: '0',
  });
  v1 = await trainDigitsModel({ name: 'digits', seed: 1 });
  v2 = await trainDigitsModel({ name: 'digits', seed: 2 });
  await t.services.models.save(v1.metadata, v1.artifacts);
});
after(async () => {
  v1.dispose();
  v2.dispose();
  await t.close();
});

const predict = (ref: string, payload: unknown) => t.app.inject({ method: 'POST', url: `/v1/models/${encodeURIComponent(ref)}/predict`, payload: payload as object });

describe('predict under concurrency (micro-batching)', () => {
  it('answers many parallel requests, each with its own rows, exactly as the engine predicts them alone', async () => {
    const requests = Array.from({ length: 48 }, (_, i) => digitInstances(i * 5, 1 + (i % 4)));
    const responses = await Promise.all(requests.map((instances) => predict(v1.metadata.id, { instances })));
    responses.forEach((res, i) => {
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.modelId, v1.metadata.id);
      assertSamePredictions(body.predictions, v1.predictAlone(requests[i]), 1e-5, `request ${i}`);
    });
    const { stats } = (await t.services.modelCache.get(v1.metadata.id)).batcher;
    assert.ok(stats.largestPass > 4, `requests shared forward passes (largest pass ${stats.largestPass} rows)`);
    assert.ok(stats.largestPass <= 16, 'no pass is larger than PREDICT_MAX_BATCH');
    assert.ok(stats.passes < requests.length);
  });

  it('counts predicted rows under the id of the model that answered, however the request named it', async () => {
    const counted = async () => {
      const text = (await t.app.inject({ url: '/metrics' })).body;
      assert.ok(!/mtl_predict_rows_total\{model="digits/.test(text), 'no series per name or name@version');
      return Number(text.match(new RegExp(`^mtl_predict_rows_total\\{model="${v1.metadata.id}"\\} (\\d+)`, 'm'))?.[1] ?? 0);
    };
    const before = await counted();
    for (const ref of [v1.metadata.id, 'digits']) assert.equal((await predict(ref, { instances: digitInstances(0, 3) })).statusCode, 200);
    assert.equal(await counted(), before + 6);
  });

  it('fails a request with a bad instance alone, with its 400, and answers the others', async () => {
    const good = Array.from({ length: 12 }, (_, i) => digitInstances(300 + i * 3, 3));
    const missing = [digitInstances(0, 1)[0], { p0: 1 }];
    const notNumber = [{ ...digitInstances(1, 1)[0], p5: 'dark' }];
    const all = [...good.slice(0, 6), missing, ...good.slice(6), notNumber];
    const responses = await Promise.all(all.map((instances) => predict(v1.metadata.id, { instances })));
    const bad = [responses[6], responses[13]];
    assert.deepEqual(bad.map((r) => r.statusCode), [400, 400]);
    assert.equal(bad[0].json().errors[0].pointer, '/instances/1/p1');
    assert.equal(bad[1].json().errors[0].pointer, '/instances/0/p5');
    const answered = responses.filter((_, i) => i !== 6 && i !== 13);
    answered.forEach((res, i) => {
      assert.equal(res.statusCode, 200, res.body);
      assertSamePredictions(res.json().predictions, v1.predictAlone(good[i]));
    });
  });

  it('cuts a request larger than PREDICT_MAX_BATCH into passes and answers it whole', async () => {
    const instances = digitInstances(600, 40);
    const before = (await t.services.modelCache.get(v1.metadata.id)).batcher.stats.passes;
    const res = await predict(v1.metadata.id, { instances });
    assert.equal(res.statusCode, 200);
    assertSamePredictions(res.json().predictions, v1.predictAlone(instances));
    const after = (await t.services.modelCache.get(v1.metadata.id)).batcher.stats.passes;
    assert.equal(after - before, 3, '40 rows in passes of at most 16');
  });
});

describe('predict limits', () => {
  it('refuses more rows than PREDICT_MAX_ROWS with a 413 naming /instances', async () => {
    const res = await predict(v1.metadata.id, { instances: Array.from({ length: 41 }, () => ({ p0: 0 })) });
    assert.equal(res.statusCode, 413);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = res.json();
    assert.equal(problem.type, 'urn:mtl:problem:payload-too-large');
    assert.equal(problem.errors[0].pointer, '/instances');
    assert.match(problem.detail, /at most 40 instances/);
  });

  it('refuses a body larger than PREDICT_MAX_BODY_BYTES with a 413 naming /body', async () => {
    const res = await predict(v1.metadata.id, { instances: [{ ...digitInstances(0, 1)[0], note: 'x'.repeat(70_000) }] });
    assert.equal(res.statusCode, 413);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().errors[0].pointer, '/body');
    assert.match(res.json().detail, /65536 bytes/);
  });

  it('refuses a body that is not JSON with a 400 naming /body', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/models/${v1.metadata.id}/predict`, headers: { 'content-type': 'application/json' }, payload: '{"instances": [' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().errors[0].pointer, '/body');
  });
});

describe('hostile values in predict instances', () => {
  it('a deeply nested value is a 400 naming its field, not a 500', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000); // written out: JSON.stringify itself cannot go this deep
    const pixels = JSON.stringify(digitInstances(0, 1)[0]).slice(1, -1);
    for (const field of ['p3', 'unused']) {
      const payload = `{"instances": [{${pixels}, "${field}": ${deep}}]}`;
      const res = await t.app.inject({ method: 'POST', url: `/v1/models/${v1.metadata.id}/predict`, headers: { 'content-type': 'application/json' }, payload });
      assert.equal(res.statusCode, 400, res.body.slice(0, 300));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json();
      assert.match(problem.errors[0].pointer, /^\/instances\/0\/(p3|unused)\/0\/0/);
      assert.match(problem.detail, /nested/);
      assert.ok(res.body.length < 2000, `${res.body.length} bytes`);
    }
    const fine = await predict(v1.metadata.id, { instances: [{ ...digitInstances(0, 1)[0], p3: [[1]] }] });
    assert.equal(fine.statusCode, 400, 'a list is still not a number');
    assert.match(fine.json().errors[0].pointer, /^\/instances\/0\/p3$/);
  });

  it('a long bad value is echoed cut to 200 characters', async () => {
    const res = await predict(v1.metadata.id, { instances: [{ ...digitInstances(0, 1)[0], p3: 'dark'.repeat(15_000) }] });
    assert.equal(res.statusCode, 400);
    const problem = res.json();
    assert.equal(problem.errors[0].pointer, '/instances/0/p3');
    assert.match(problem.detail, /must be a number, got "(dark)+d?a?r?…"$/);
    assert.ok(problem.detail.length < 300, problem.detail.length);
    assert.ok(res.body.length < 1000, `${res.body.length} bytes`);
  });
});

describe('a 5 MB bad value (default body limit)', () => {
  let big: TestApp;
  const lines: string[] = [];
  before(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean)), done()) });
    big = await createTestApp('predict-big', {}, { logger: pino({ level: 'info' }, sink) });
    await big.services.models.save(v1.metadata, v1.artifacts);
  });
  after(async () => big.close());

  it('comes back cut in a small answer and a short log line', async () => {
    const res = await big.app.inject({ method: 'POST', url: `/v1/models/${v1.metadata.id}/predict`, payload: { instances: [{ ...digitInstances(0, 1)[0], p3: 'x'.repeat(5_000_000) }] } });
    assert.equal(res.statusCode, 400);
    assert.ok(res.body.length < 1000, `${res.body.length} bytes`);
    assert.ok(lines.length > 0, 'the refusal was logged');
    for (const line of lines) assert.ok(line.length < 2000, `a log line of ${line.length} characters`);
  });
});

describe('model versions', () => {
  it('serves a model saved again under the same name as its new version, by name and name@version', async () => {
    assert.equal((await predict('digits', { instances: digitInstances(0, 1) })).json().version, 1);
    const saved = await createStores(t.config).models.save(v2.metadata, v2.artifacts); // as another worker would
    assert.equal(saved.version, 2);

    const instances = digitInstances(900, 5);
    const latest = (await predict('digits', { instances })).json();
    assert.equal(latest.modelId, v2.metadata.id);
    assert.equal(latest.name, 'digits');
    assert.equal(latest.version, 2);
    assertSamePredictions(latest.predictions, v2.predictAlone(instances));
    const pinned = (await predict('digits@2', { instances })).json();
    assert.equal(pinned.modelId, v2.metadata.id);
    const first = (await predict('digits@1', { instances })).json();
    assert.equal(first.modelId, v1.metadata.id);
    assert.equal(first.version, 1);
    assertSamePredictions(first.predictions, v1.predictAlone(instances));
    assert.notDeepEqual(first.predictions, latest.predictions, 'two different models answered');

    const missing = await predict('digits@3', { instances });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().detail, /digits@3/);
  });

  it('lists the versions of a name, and shows a model by name@version', async () => {
    const list = (await t.app.inject({ url: '/v1/models?name=digits' })).json();
    assert.deepEqual(list.models.map((m: { version: number }) => m.version), [2, 1]);
    assert.equal((await t.app.inject({ url: '/v1/models?name=other' })).json().models.length, 0);
    const shown = (await t.app.inject({ url: '/v1/models/digits@1' })).json();
    assert.equal(shown.id, v1.metadata.id);
    assert.equal(shown.version, 1);
    assert.equal((await t.app.inject({ url: '/v1/models/digits' })).json().id, v2.metadata.id);
  });

  it('stops serving a version another process deleted, and falls back to the one before', async () => {
    rmSync(join(t.config.DATA_DIR, 'models', v2.metadata.id), { recursive: true }); // behind the API's back
    assert.equal((await predict(v2.metadata.id, { instances: digitInstances(0, 1) })).statusCode, 404);
    assert.equal((await predict('digits@2', { instances: digitInstances(0, 1) })).statusCode, 404);
    const latest = (await predict('digits', { instances: digitInstances(0, 1) })).json();
    assert.equal(latest.version, 1);
  });
});

describe('a cascaded model (click → conversion, esmm) through the route', () => {
  it('answers the joint probability and the conditional one for every instance, micro-batched like any model; the model shows its cascade', async () => {
    const data = clickConversionRows({ rows: 3000, seed: 5 });
    const spec = resolveSpec(
      {
        name: 'clicks',
        datasetId: 'clicks',
        features: [...CLICK_FEATURES.map((name) => ({ name })), { name: 'device' }],
        tasks: [{ name: 'click', type: 'binary' }, { name: 'conversion', type: 'binary', dependsOn: 'click', mode: 'esmm' }],
        architecture: { sharedLayers: [16], headLayers: [8] },
        training: { epochs: 2, learningRate: 0.01 },
      },
      data.summary,
    );
    const trained = await trainOnRows(spec, data.rows);
    try {
      const metadata = modelMetadataOf({ id: newId(), jobId: newId(), spec, trained, backend: 'test' });
      await t.services.models.save(metadata, await exportArtifacts(trained.model.serving));
      const shown = (await t.app.inject({ url: `/v1/models/${metadata.id}` })).json();
      assert.deepEqual(shown.tasks.map((task: { name: string; dependsOn?: string; mode?: string }) => [task.name, task.dependsOn, task.mode]), [['click', undefined, undefined], ['conversion', 'click', 'esmm']]);

      const instance = (r: number) => Object.fromEntries([...CLICK_FEATURES, 'device'].map((f) => [f, data.rows[r][f]]));
      const requests = Array.from({ length: 12 }, (_, i) => Array.from({ length: 1 + (i % 3) }, (_, j) => instance(i * 3 + j)));
      const responses = await Promise.all(requests.map((instances) => predict(metadata.id, { instances })));
      responses.forEach((res, i) => {
        assert.equal(res.statusCode, 200, res.body);
        const { predictions } = res.json();
        assertSamePredictions(predictions, predictInstances(trained.model.serving, trained.preprocessing, requests[i]), 1e-5, `request ${i}`);
        for (const p of predictions) {
          assert.deepEqual(Object.keys(p.conversion), ['label', 'probabilities', 'conditional']);
          assert.equal(p.conversion.conditional.given, 'click');
          // p(click and conversion) = p(click) · p(conversion | click)
          const joint = p.click.probabilities['1'] * p.conversion.conditional.probabilities['1'];
          assert.ok(Math.abs(p.conversion.probabilities['1'] - joint) < 1e-5, `${p.conversion.probabilities['1']} vs ${joint}`);
          assert.deepEqual(Object.keys(p.click), ['label', 'probabilities']);
        }
      });
    } finally {
      disposeModel(trained.model);
    }
  });
});
