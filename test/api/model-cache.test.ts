import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCache } from '../../src/api/model-cache.js';
import { BatcherClosedError } from '../../src/api/predict-batcher.js';
import { servePredictions } from '../../src/api/serve-predictions.js';
import { encodeInstances } from '../../src/mtl/predictor.js';
import { ModelStore } from '../../src/store/model-store.js';
import { NotFoundError } from '../../src/shared/not-found-error.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { assertSamePredictions, digitInstances, trainDigitsModel } from '../helpers/digits-model.js';

let dir: string;
let store: ModelStore;
const ids: string[] = [];
/** Tensors alive with no model loaded. */
let baseline: number;

before(async () => {
  await useTestBackend();
  dir = mkdtempSync(join(tmpdir(), 'mtl-model-cache-'));
  store = new ModelStore(dir);
  for (const name of ['a', 'b', 'c']) {
    const model = await trainDigitsModel({ name, epochs: 1 });
    await store.save(model.metadata, model.artifacts);
    model.dispose();
    ids.push(model.metadata.id);
  }
  baseline = tf.memory().numTensors;
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ModelCache', () => {
  it('loads a model once when many requests ask for it together', async () => {
    let loads = 0;
    const counting = Object.create(store) as ModelStore;
    counting.loadArtifacts = (id) => (loads++, store.loadArtifacts(id));
    const cache = new ModelCache(counting, { capacity: 2 });
    const models = await Promise.all(Array.from({ length: 10 }, () => cache.get(ids[0])));
    assert.equal(loads, 1);
    assert.ok(models.every((m) => m === models[0]));
    assert.equal(models[0].metadata.name, 'a');
    cache.clear();
    await cache.settled();
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('disposes an evicted model’s tensors, after answering the requests it holds, and leaks none while serving', async () => {
    const cache = new ModelCache(store, { capacity: 1, maxBatch: 64, maxDelayMs: 5 });
    const a = await cache.get(ids[0]);
    const withOne = tf.memory().numTensors;
    assert.ok(withOne > baseline, 'loading made the weights');
    const x = encodeInstances(a.metadata.preprocessing, digitInstances(0, 3));
    await Promise.all(Array.from({ length: 20 }, () => a.batcher.run(x, 3)));
    assert.equal(tf.memory().numTensors, withOne, 'batched forward passes leave no tensor behind');

    const waiting = a.batcher.run(x, 3); // still in a's batcher when b evicts a
    const b = await cache.get(ids[1]);
    assert.equal(cache.size, 1);
    assert.equal((await waiting)[0].length, 3 * 10, 'the waiting request was answered');
    await cache.settled();
    assert.equal(tf.memory().numTensors, withOne, 'a was disposed when b came in (same architecture, same count)');
    assert.ok(a.batcher.isClosed);
    await assert.rejects(a.batcher.run(x, 3), BatcherClosedError);

    cache.evict(b.id);
    await cache.settled();
    assert.equal(tf.memory().numTensors, baseline, 'nothing left after the last eviction');
  });

  it('notices a model another process deleted, and frees it', async () => {
    const cache = new ModelCache(store, { capacity: 2, recheckMs: 0 });
    await cache.get(ids[2]);
    await new ModelStore(dir).delete(ids[2]); // another process, same DATA_DIR
    await assert.rejects(cache.get(ids[2]), NotFoundError);
    assert.equal(cache.size, 0);
    await cache.settled();
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('answers every request right while two models keep evicting each other, and leaks nothing', async () => {
    const instances = digitInstances(50, 2);
    const roomy = new ModelCache(store, { capacity: 2 });
    const expected = await Promise.all(ids.slice(0, 2).map(async (id) => (await servePredictions(roomy, id, instances)).predictions));
    roomy.clear();
    await roomy.settled();

    const cramped = new ModelCache(store, { capacity: 1, maxBatch: 64, maxDelayMs: 5 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => servePredictions(cramped, ids[i % 2], instances)));
    answers.forEach(({ model, predictions }, i) => {
      assert.equal(model.id, ids[i % 2]);
      assertSamePredictions(predictions, expected[i % 2]);
    });
    cramped.clear();
    await cramped.settled();

    // Batching off, a request cut into passes: its model is evicted between two passes, so it is loaded again and the request finishes.
    const unbatched = new ModelCache(store, { capacity: 1, maxBatch: 4, maxDelayMs: 0 });
    const many = digitInstances(60, 20);
    const [long] = await Promise.all([servePredictions(unbatched, ids[0], many), servePredictions(unbatched, ids[1], instances)]);
    const single = new ModelCache(store, { capacity: 1 });
    assertSamePredictions(long.predictions, (await servePredictions(single, ids[0], many)).predictions);
    for (const cache of [unbatched, single]) {
      cache.clear();
      await cache.settled();
    }
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('resolves a name to its latest stored version and name@version to that version', async () => {
    const cache = new ModelCache(store, { capacity: 4, recheckMs: 0 });
    const again = await trainDigitsModel({ name: 'a', epochs: 1, seed: 7 });
    const saved = await new ModelStore(dir).save(again.metadata, again.artifacts);
    again.dispose();
    assert.equal(saved.version, 2);
    assert.equal((await cache.resolve('a')).id, saved.id);
    assert.equal((await cache.resolve('a@1')).id, ids[0]);
    assert.equal((await cache.resolve('a@2')).id, saved.id);
    await assert.rejects(cache.resolve('a@3'), NotFoundError);
    await assert.rejects(cache.resolve('nothing'), NotFoundError);
    await store.delete(saved.id);
    assert.equal((await cache.resolve('a')).id, ids[0], 'with version 2 deleted, the latest is 1 again');
    cache.clear();
    await cache.settled();
    assert.equal(tf.memory().numTensors, baseline);
  });
});
