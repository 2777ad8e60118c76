import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ModelArtifacts } from '../../src/mtl/serialization.js';
import { newId } from '../../src/shared/ids.js';
import { NotFoundError } from '../../src/shared/not-found-error.js';
import { CheckpointStore } from '../../src/store/checkpoint-store.js';
import { DatasetStore } from '../../src/store/dataset-store.js';
import { FileObjectStore } from '../../src/store/file-object-store.js';
import type { ModelMetadata } from '../../src/store/model-metadata.js';
import { ModelStore } from '../../src/store/model-store.js';
import type { ObjectStore } from '../../src/store/object-store.js';
import { openObjectStore } from '../../src/store/object-stores.js';
import { RedisClaims } from '../../src/store/redis-claims.js';
import { S3ObjectStore } from '../../src/store/s3-object-store.js';
import { testRedis, uniquePrefix } from '../helpers/redis.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

/**
 * One contract, two backends: every store (datasets, models with versions and aliases,
 * checkpoints) and the object store's own guarantees, on a directory and on a real S3-protocol
 * server (s3rver, started here in its own process; no SDK mock).
 */
let s3: S3Server;
let redis: Awaited<ReturnType<typeof testRedis>>;
const dir = mkdtempSync(join(tmpdir(), 'mtl-backends-'));
const opened: ObjectStore[] = [];

before(async () => {
  [s3, redis] = await Promise.all([startS3Server(), testRedis()]);
});
after(async () => {
  await Promise.all(opened.map((o) => o.close()));
  await s3?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function s3Store(prefix: string, opts: { bucket?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; endpoint?: string } = {}): S3ObjectStore {
  const store = S3ObjectStore.fromUrl(`s3://${opts.bucket ?? s3.bucket}/${prefix}`, {
    endpoint: opts.endpoint ?? s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: opts.credentials ?? S3RVER_CREDENTIALS,
    claims: new RedisClaims(redis.url, `${uniquePrefix('claims')}:`),
  });
  opened.push(store);
  return store;
}

/** A fresh, empty store of each backend (a new directory, a new S3 prefix). */
const BACKENDS: Record<string, () => ObjectStore> = {
  file: () => new FileObjectStore(mkdtempSync(join(dir, 'f-'))),
  s3: () => s3Store(`run-${newId()}`),
};

const artifacts = (bytes = 4): ModelArtifacts => ({ modelTopology: { layers: [] }, weightSpecs: [], weightData: new Uint8Array(bytes).fill(7).buffer });
const metadataNamed = (name: string) => ({ id: newId(), name, createdAt: new Date().toISOString() }) as ModelMetadata;
const body = (text: string) => Readable.from([Buffer.from(text)]);

for (const [backend, fresh] of Object.entries(BACKENDS)) {
  describe(`${backend} backend`, () => {
    it('puts, gets, streams, heads, lists and deletes objects', async () => {
      const store = fresh();
      assert.equal(await store.get('a/x'), undefined);
      assert.equal(await store.read('a/x'), undefined);
      assert.equal(await store.head('a/x'), undefined);
      await store.put('a/x', 'one');
      await store.put('a/b/y', Readable.from([Buffer.from('two'), Buffer.from('!')]));
      assert.equal((await store.get('a/x'))?.toString(), 'one');
      assert.equal((await store.at('a').get('b/y'))?.toString(), 'two!');
      const chunks: Buffer[] = [];
      for await (const c of (await store.read('a/x'))!) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'one');
      assert.deepEqual((await store.list('a')).sort(), ['b', 'x']);
      assert.deepEqual(await store.list('nothing'), []);
      const before = await store.head('a/x');
      assert.equal(before?.size, 3);
      await store.put('a/x', 'three');
      assert.notEqual((await store.head('a/x'))?.stamp, before?.stamp, 'the stamp changes when the object is replaced');
      await store.delete('a/x');
      await store.delete('a/x');
      assert.equal(await store.get('a/x'), undefined);
      assert.throws(() => store.at('../escape'), /invalid store key/);
    });

    it('grants an exclusive create to exactly one of many racing callers', async () => {
      const store = fresh();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createExclusive('claims/1', `caller ${i}`)));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.equal((await store.get('claims/1'))?.toString(), `caller ${winner}`);
    });

    it('publishes a group only whole: nothing visible while it is written or after it fails; unpublish removes it', async () => {
      const store = fresh();
      const id = newId();
      const value = await store.publish(id, 'manifest.json', async (group) => {
        await group.put('data.bin', Buffer.alloc(1000, 1));
        assert.equal(await store.head(`${id}/manifest.json`), undefined, 'no manifest before the group is published');
        return { value: 42, manifest: '{}' };
      });
      assert.equal(value, 42);
      assert.equal((await store.get(`${id}/manifest.json`))?.toString(), '{}');
      const failed = newId();
      await assert.rejects(
        store.publish(failed, 'manifest.json', async (group) => {
          await group.put('data.bin', Buffer.alloc(10));
          throw new Error('disk on fire');
        }),
        /disk on fire/,
      );
      assert.equal(await store.head(`${failed}/manifest.json`), undefined);
      assert.equal(await store.head(`${failed}/data.bin`), undefined, 'what a failed group wrote is removed');
      assert.equal(await store.unpublish(id, 'manifest.json'), true);
      assert.equal(await store.head(`${id}/data.bin`), undefined);
      assert.equal(await store.unpublish(id, 'manifest.json'), false);
    });

    it('stores a dataset (streamed in pieces), lists it, scans it twice and deletes it', async () => {
      const datasets = new DatasetStore(fresh().at('datasets'));
      const rows = Array.from({ length: 5000 }, (_, i) => `${i},${i % 3 === 0 ? 'a' : 'b'},${i * 0.5}`);
      const info = await datasets.create('wide', 'csv', body(`n,c,v\n${rows.join('\n')}\n`), 1e8);
      assert.equal(info.rows, 5000);
      assert.deepEqual((await datasets.list()).map((d) => d.id), [info.id]);
      const { source } = await datasets.rowSource(info.id);
      for (let pass = 0; pass < 2; pass++) {
        let sum = 0;
        await source.scanColumns(['v'], (cells) => void (sum += cells[0] as number));
        assert.equal(sum, (4999 * 5000) / 2 / 2);
      }
      await datasets.delete(info.id);
      await assert.rejects(datasets.get(info.id), NotFoundError);
      assert.deepEqual(await datasets.list(), []);
      await assert.rejects(source.scan(() => undefined), NotFoundError, 'a deleted dataset is gone for a reader holding its source');
    });

    it('numbers models of one name 1..n across two stores racing (two workers), keeps aliases, and a stamp that changes on delete', async () => {
      const objects = fresh();
      const workers = [new ModelStore(objects.at('models')), new ModelStore(objects.at('models'))];
      const saved = await Promise.all(Array.from({ length: 8 }, (_, i) => workers[i % 2].save(metadataNamed('race'), artifacts(16))));
      assert.deepEqual(saved.map((m) => m.version).sort((a, b) => a! - b!), [1, 2, 3, 4, 5, 6, 7, 8]);
      const loaded = await workers[1].loadArtifacts(saved[0].id);
      assert.deepEqual(new Uint8Array(loaded.artifacts.weightData), new Uint8Array(16).fill(7));
      assert.equal((await workers[0].list()).length, 8, 'version claims and aliases are not models');
      const v3 = await workers[0].resolve('race', 3);
      await workers[0].setAlias('race', 'prod', 3);
      assert.equal(await workers[1].resolveRef({ name: 'race', alias: 'prod' }), v3);
      assert.deepEqual(await workers[1].aliasesOf('race'), [{ alias: 'prod', version: 3 }]);
      const stamp = await workers[0].stamp(v3);
      assert.equal(await workers[1].stamp(v3), stamp);
      await workers[1].delete(v3);
      await assert.rejects(workers[0].stamp(v3), NotFoundError);
      await assert.rejects(workers[0].resolve('race', 3), NotFoundError);
      assert.equal((await workers[0].save(metadataNamed('race'), artifacts())).version, 9, 'a deleted version is never reused');
      await workers[0].deleteAlias('race', 'prod');
      assert.deepEqual(await workers[0].aliasesOf('race'), []);
    });

    it('keeps a checkpoint whole for a job resumed by another store (another machine)', async () => {
      const objects = fresh();
      const jobId = newId();
      const value = { epoch: 2, weights: [new Float32Array(300_000).fill(0.25), new Float32Array([1, 2])] };
      await new CheckpointStore(objects.at('checkpoints')).save(jobId, value);
      assert.deepEqual(await new CheckpointStore(objects.at('checkpoints')).load(jobId), value);
      await new CheckpointStore(objects.at('checkpoints')).delete(jobId);
      assert.equal(await new CheckpointStore(objects.at('checkpoints')).load(jobId), null);
    });
  });
}

describe('s3 backend faults', () => {
  it('a missing bucket, refused credentials or an unreachable endpoint fail verify() naming STORE_URL', async () => {
    await assert.rejects(s3Store('p', { bucket: 'no-such-bucket' }).verify(), /^Error: STORE_URL s3:\/\/no-such-bucket\/p: bucket 'no-such-bucket' does not exist/);
    // (s3rver refuses an unknown access key; it does not check the secret)
    await assert.rejects(s3Store('p', { credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'x' } }).verify(), /STORE_URL s3:\/\/mtl-test\/p: access to bucket 'mtl-test' refused \(HTTP 403\)/);
    const closed = s3Store('p', { endpoint: 'http://127.0.0.1:9' });
    await assert.rejects(closed.verify(), /STORE_URL s3:\/\/mtl-test\/p: cannot reach the S3 endpoint/);
    const probe = await closed.probe(['models']);
    assert.equal(probe.ok, false);
    assert.match(probe.detail ?? '', /store s3:\/\/mtl-test\/p does not take writes/);
    assert.throws(() => openObjectStore({ url: 'ftp://x/y', dataDir: dir }), /STORE_URL ftp:\/\/x\/y: unknown scheme/);
  });

  it('the server dying in the middle of a model save: the save fails, and once it is back nothing of that model is visible', async () => {
    const other = await startS3Server({ bucket: 'faults' });
    try {
      const objects = S3ObjectStore.fromUrl(`s3://faults/p`, { endpoint: other.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, claims: new RedisClaims(redis.url, `${uniquePrefix('claims')}:`), partSize: 5 * 1024 * 1024 });
      opened.push(objects);
      const models = new ModelStore(objects.at('models'));
      const saving = models.save(metadataNamed('doomed'), artifacts(200 * 1024 * 1024));
      await new Promise((r) => setTimeout(r, 300));
      await other.kill();
      await assert.rejects(saving);
      await other.start();
      assert.deepEqual(await models.list(), []);
      await assert.rejects(models.resolve('doomed'), NotFoundError);
      assert.equal((await models.save(metadataNamed('doomed'), artifacts())).version, 1, 'the failed save claimed no version');
    } finally {
      await other.stop();
    }
  });
});
