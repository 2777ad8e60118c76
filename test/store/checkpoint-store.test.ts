import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore } from '../../src/store/checkpoint-store.js';
import { newId } from '../../src/shared/ids.js';

const dir = mkdtempSync(join(tmpdir(), 'mtl-ckpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CheckpointStore', () => {
  it('round-trips Float32Arrays inside a JSON value; delete removes it', async () => {
    const store = new CheckpointStore(dir);
    const id = newId();
    const value = { epoch: 3, weights: [new Float32Array([1.5, -2, 3.25]), new Float32Array([0.1])], history: [{ loss: 0.5 }] };
    await store.save(id, value);
    assert.deepEqual(await store.load(id), value);
    await store.delete(id);
    assert.equal(await store.load(id), null);
  });

  it('a save that fails leaves no temporary file behind', async () => {
    const store = new CheckpointStore(dir);
    const id = newId();
    // Something in the way of the final rename (as a full disk would fail the write).
    mkdirSync(join(dir, `${id}.ckpt`, 'in-the-way'), { recursive: true });
    await assert.rejects(store.save(id, { weights: new Float32Array(1000) }));
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  });
});
