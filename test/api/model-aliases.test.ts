import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { requiredRole } from '../../src/api/plugins/auth.js';
import { createStores } from '../../src/composition-root.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { assertSamePredictions, digitInstances, trainDigitsModel, type DigitsModel } from '../helpers/digits-model.js';

/** Aliases: PUT/DELETE /v1/models/{name}/aliases/{alias}, name@alias wherever name@version works, moves seen at once. */
let t: TestApp;
const versions: DigitsModel[] = [];
const RECHECK_MS = 400;

before(async () => {
  t = await createTestApp('aliases', { MODEL_CACHE_RECHECK_MS: String(RECHECK_MS), PREDICT_MAX_DELAY_MS: '5' });
  for (const seed of [1, 2, 3]) {
    const m = await trainDigitsModel({ name: 'digits', seed, epochs: 2 });
    await t.services.models.save(m.metadata, m.artifacts);
    versions.push(m);
  }
});
after(async () => {
  versions.forEach((m) => m.dispose());
  await t.close();
});

const put = (name: string, alias: string, body: unknown) => t.app.inject({ method: 'PUT', url: `/v1/models/${encodeURIComponent(name)}/aliases/${alias}`, payload: body as object });
const predict = (ref: string, instances = digitInstances(0, 2)) => t.app.inject({ method: 'POST', url: `/v1/models/${encodeURIComponent(ref)}/predict`, payload: { instances } });

describe('model aliases', () => {
  it('points an alias at a version; name@alias predicts, shows and exports that version; the model lists its aliases', async () => {
    const res = await put('digits', 'prod', { version: 1 });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { name: 'digits', alias: 'prod', version: 1, modelId: versions[0].metadata.id });
    const instances = digitInstances(40, 3);
    const answer = (await predict('digits@prod', instances)).json();
    assert.equal(answer.modelId, versions[0].metadata.id);
    assert.equal(answer.version, 1);
    assertSamePredictions(answer.predictions, versions[0].predictAlone(instances));
    const shown = (await t.app.inject({ url: '/v1/models/digits@prod' })).json();
    assert.equal(shown.id, versions[0].metadata.id);
    assert.deepEqual(shown.aliases, ['prod']);
    assert.deepEqual((await t.app.inject({ url: '/v1/models/digits' })).json().aliases, [], 'the latest version has none');
    const listed = (await t.app.inject({ url: '/v1/models?name=digits' })).json().models;
    assert.deepEqual(listed.map((m: { version: number; aliases: string[] }) => [m.version, m.aliases]), [[3, []], [2, []], [1, ['prod']]]);
    const archive = await t.app.inject({ url: '/v1/models/digits@prod/archive' });
    assert.equal(archive.statusCode, 200);
    assert.match(String(archive.headers['content-disposition']), /digits-v1\.tar\.gz/);
    const aliases = (await t.app.inject({ url: '/v1/models/digits/aliases' })).json();
    assert.deepEqual(aliases, { name: 'digits', aliases: [{ alias: 'prod', version: 1, modelId: versions[0].metadata.id }] });
  });

  it('moves an alias: this process sees it at once, another process within MODEL_CACHE_RECHECK_MS', async () => {
    assert.equal((await predict('digits@prod')).json().version, 1); // remembered by the cache now
    assert.equal((await put('digits', 'prod', { version: 2 })).statusCode, 200);
    assert.equal((await predict('digits@prod')).json().version, 2, 'at once, though the cache keeps names for 400 ms');
    await createStores(t.config).models.setAlias('digits', 'prod', 3); // as another API process would
    const started = Date.now();
    let seen = (await predict('digits@prod')).json().version;
    while (seen !== 3 && Date.now() - started < RECHECK_MS * 5) {
      await new Promise((r) => setTimeout(r, 25));
      seen = (await predict('digits@prod')).json().version;
    }
    assert.equal(seen, 3);
    assert.ok(Date.now() - started <= RECHECK_MS + 300, `seen after ${Date.now() - started} ms`);
  });

  it('removes an alias, after which name@alias is a 404 naming it', async () => {
    await put('digits', 'gone', { version: 2 });
    assert.equal((await predict('digits@gone')).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/models/digits/aliases/gone' })).statusCode, 204);
    const res = await predict('digits@gone');
    assert.equal(res.statusCode, 404);
    assert.match(res.json().detail, /no alias 'gone' of model 'digits'/);
    const again = await t.app.inject({ method: 'DELETE', url: '/v1/models/digits/aliases/gone' });
    assert.equal(again.statusCode, 404);
    assert.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8');
  });

  it('refuses bad aliases, unknown versions, and anything but a name', async () => {
    for (const alias of ['3', '3x', '_x', 'a.b']) assert.equal((await put('digits', alias, { version: 1 })).statusCode, 400, alias);
    const missing = await put('digits', 'next', { version: 9 });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().detail, /digits@9/);
    assert.equal((await put('nothing-by-this-name', 'prod', { version: 1 })).statusCode, 404);
    assert.equal((await put('digits@2', 'prod', { version: 1 })).statusCode, 400);
    assert.equal((await put(versions[0].metadata.id, 'prod', { version: 1 })).statusCode, 400);
    assert.equal((await put('digits', 'prod', { version: 0 })).statusCode, 400);
    assert.equal((await put('digits', 'prod', { version: 1, extra: true })).statusCode, 400);
  });

  it('never answers with a version the alias was not pointed at, while it moves under concurrent predictions', async (tc) => {
    await put('digits', 'live', { version: 1 });
    const other = createStores(t.config).models;
    const instances = digitInstances(100, 2);
    const expected = new Map(versions.slice(0, 2).map((m) => [m.metadata.id, m.predictAlone(instances)]));
    let moving = true;
    let moves = 0;
    const mover = (async () => {
      for (let i = 0; moving; i++, moves++) {
        if (i % 2) await other.setAlias('digits', 'live', 1 + (i % 4 < 2 ? 0 : 1));
        else assert.equal((await put('digits', 'live', { version: 1 + (i % 4 < 2 ? 1 : 0) })).statusCode, 200);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const answers = [];
    for (let round = 0; round < 10 || (moves < 20 && round < 500); round++) answers.push(...(await Promise.all(Array.from({ length: 12 }, () => predict('digits@live', instances)))));
    moving = false;
    await mover;
    const seen = new Set<number>();
    for (const res of answers) {
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.ok(expected.has(body.modelId), `answered by version ${body.version}, which the alias never pointed at`);
      assertSamePredictions(body.predictions, expected.get(body.modelId));
      seen.add(body.version);
    }
    tc.diagnostic(`${answers.length} answers during ${moves} moves, from versions ${[...seen].sort()}`);
    assert.ok(moves >= 20, `the alias moved ${moves} times meanwhile`);
  });

  it('takes an admin key to move an alias, a predict key to list them', () => {
    const opts = { docsPublic: true, metricsPublic: false };
    assert.equal(requiredRole('PUT', '/v1/models/:id/aliases/:alias', opts), 'admin');
    assert.equal(requiredRole('DELETE', '/v1/models/:id/aliases/:alias', opts), 'admin');
    assert.equal(requiredRole('GET', '/v1/models/:id/aliases', opts), 'predict');
    assert.equal(requiredRole('GET', '/v1/models/:id/archive', opts), 'admin');
    assert.equal(requiredRole('POST', '/v1/models', opts), 'admin');
  });
});
