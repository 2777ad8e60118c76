import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelArtifacts } from '../../src/mtl/serialization.js';
import { newId } from '../../src/shared/ids.js';
import type { ModelMetadata } from '../../src/store/model-metadata.js';
import { ModelStore } from '../../src/store/model-store.js';
import { NotFoundError } from '../../src/shared/not-found-error.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtl-model-store-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The store does not look inside the weights: tiny stand-ins are enough here. */
const artifacts: ModelArtifacts = { modelTopology: {}, weightSpecs: [], weightData: new ArrayBuffer(4) };
const metadataNamed = (name: string) => ({ id: newId(), name, createdAt: new Date().toISOString() }) as ModelMetadata;

describe('ModelStore versions', () => {
  it('numbers the models of one name 1, 2, 3, … even when several savers race (two stores on one directory, as two workers)', async () => {
    const workers = [new ModelStore(dir), new ModelStore(dir)];
    const saved = await Promise.all(Array.from({ length: 12 }, (_, i) => workers[i % 2].save(metadataNamed('race'), artifacts)));
    assert.deepEqual(saved.map((m) => m.version).sort((a, b) => a! - b!), Array.from({ length: 12 }, (_, i) => i + 1));
    const stored = await Promise.all(saved.map((m) => workers[0].get(m.id)));
    assert.deepEqual(stored.map((m) => m.version), saved.map((m) => m.version), 'the version is in the stored metadata');
    const other = await workers[0].save(metadataNamed('other name'), artifacts);
    assert.equal(other.version, 1, 'each name counts on its own');
  });

  it('resolves a name to its latest stored version, name@version to that one, and never reuses a deleted version', async () => {
    const store = new ModelStore(dir);
    const first = await store.save(metadataNamed('churn'), artifacts);
    const second = await store.save(metadataNamed('churn'), artifacts);
    assert.equal(await store.resolve('churn'), second.id);
    assert.equal(await store.resolve('churn', 1), first.id);
    await assert.rejects(store.resolve('churn', 3), NotFoundError);
    await assert.rejects(store.resolve('no such name'), /no model named 'no such name'/);
    await store.delete(second.id);
    assert.equal(await store.resolve('churn'), first.id);
    await assert.rejects(store.resolve('churn', 2), NotFoundError);
    assert.equal((await store.save(metadataNamed('churn'), artifacts)).version, 3);
    assert.deepEqual((await store.list({ name: 'churn' })).map((m) => m.version), [3, 1]);
  });

  it('keeps the version claims out of the model list', async () => {
    const store = new ModelStore(dir);
    assert.ok(readdirSync(dir).includes('.versions'));
    assert.ok((await store.list()).every((m) => typeof m.version === 'number'));
  });
});
