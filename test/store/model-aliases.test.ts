import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelArtifacts } from '../../src/mtl/serialization.js';
import { newId } from '../../src/shared/ids.js';
import { NotFoundError } from '../../src/shared/not-found-error.js';
import type { ModelMetadata } from '../../src/store/model-metadata.js';
import { ModelStore } from '../../src/store/model-store.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtl-model-aliases-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const artifacts: ModelArtifacts = { modelTopology: {}, weightSpecs: [], weightData: new ArrayBuffer(4) };
const metadataNamed = (name: string) => ({ id: newId(), name, createdAt: new Date().toISOString() }) as ModelMetadata;

describe('ModelStore aliases', () => {
  it('points name@alias at a version, moves it, lists and removes it', async () => {
    const store = new ModelStore(dir);
    const [v1, v2] = [await store.save(metadataNamed('churn'), artifacts), await store.save(metadataNamed('churn'), artifacts)];
    assert.equal(await store.setAlias('churn', 'prod', 1), v1.id);
    assert.equal(await store.resolveRef({ name: 'churn', alias: 'prod' }), v1.id);
    assert.equal(await store.setAlias('churn', 'prod', 2), v2.id);
    assert.equal(await store.resolveRef({ name: 'churn', alias: 'prod' }), v2.id, 'moved');
    await store.setAlias('churn', 'canary', 1);
    assert.deepEqual(await store.aliasesOf('churn'), [{ alias: 'canary', version: 1 }, { alias: 'prod', version: 2 }]);
    assert.deepEqual(await store.aliasesOf('other'), []);
    await store.deleteAlias('churn', 'canary');
    await assert.rejects(store.deleteAlias('churn', 'canary'), NotFoundError);
    await assert.rejects(store.resolveRef({ name: 'churn', alias: 'canary' }), /no alias 'canary' of model 'churn'/);
    await assert.rejects(store.setAlias('churn', 'prod', 9), NotFoundError, 'only a stored version can be aliased');
    assert.equal(await store.resolveRef({ name: 'churn', alias: 'prod' }), v2.id, 'a refused move changes nothing');
    assert.deepEqual(readdirSync(join(dir, '.aliases')).length, 1, 'one folder per name');
  });

  it('reads a name that contains @ as a name when no such alias exists', async () => {
    const store = new ModelStore(dir);
    const odd = await store.save(metadataNamed('team@research'), artifacts);
    assert.equal(await store.resolveRef({ name: 'team', alias: 'research' }), odd.id);
  });

  it('moves an alias atomically: concurrent moves and reads (two stores on one directory) only ever see versions it was pointed at', async () => {
    const [a, b] = [new ModelStore(dir), new ModelStore(dir)];
    const saved = [];
    for (let i = 0; i < 4; i++) saved.push(await a.save(metadataNamed('race'), artifacts));
    await a.setAlias('race', 'live', 1);
    const aliased = new Set([saved[0].id, saved[1].id, saved[2].id]); // version 4 is never aliased
    const moves = Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).setAlias('race', 'live', 1 + (i % 3)));
    const reads = Array.from({ length: 200 }, (_, i) => (i % 2 ? b : a).resolveRef({ name: 'race', alias: 'live' }));
    const [, seen] = await Promise.all([Promise.all(moves), Promise.all(reads)]);
    for (const id of seen) assert.ok(aliased.has(id), `read ${id}, which the alias never pointed at`);
    assert.ok([1, 2, 3].includes((await a.aliasesOf('race'))[0].version));
    const leftovers = readdirSync(join(dir, '.aliases')).flatMap((d) => readdirSync(join(dir, '.aliases', d))).filter((f) => f.startsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temporary files left behind');
  });
});
