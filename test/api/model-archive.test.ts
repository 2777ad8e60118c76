import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { predictInstances } from '../../src/mtl/predictor.js';
import { readTar } from '../../src/store/tar.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { tf } from '../helpers/backend.js';
import { digitInstances, trainDigitsModel, type DigitsModel } from '../helpers/digits-model.js';
import { craftTarGz } from '../helpers/tar-craft.js';

/**
 * Export (GET /v1/models/{ref}/archive) and import (POST /v1/models): the archive loads with
 * tf.loadLayersModel once unpacked, an import predicts identically, and a hostile archive is a 4xx
 * with nothing stored.
 */
let t: TestApp;
let other: TestApp;
let m: DigitsModel;
let archive: Buffer;
let files: Record<string, Buffer>;
const instances = digitInstances(500, 40);
const LIMIT = 1024 * 1024;

before(async () => {
  t = await createTestApp('archive', { MODEL_ARCHIVE_MAX_BYTES: String(LIMIT) });
  other = await createTestApp('archive-other');
  m = await trainDigitsModel({ name: 'digits' });
  await t.services.models.save(m.metadata, m.artifacts);
});
after(async () => {
  m.dispose();
  await t.close();
  await other.close();
});

const predict = (app: TestApp, ref: string) => app.app.inject({ method: 'POST', url: `/v1/models/${ref}/predict`, payload: { instances } });
const upload = (app: TestApp, body: Buffer, type = 'application/gzip') => app.app.inject({ method: 'POST', url: '/v1/models', headers: { 'content-type': type }, payload: body });
const storedEntries = (app: TestApp) => readdirSync(join(app.config.DATA_DIR, 'models')).sort();

describe('model export', () => {
  it('sends one .tar.gz holding model.json, weights.bin and metadata.json', async () => {
    const res = await t.app.inject({ url: '/v1/models/digits@1/archive' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="digits-v1.tar.gz"');
    archive = res.rawPayload;
    const entries = readTar(gunzipSync(archive));
    assert.deepEqual(entries.map((e) => [e.name, e.type]), [['model.json', 'file'], ['weights.bin', 'file'], ['metadata.json', 'file']]);
    files = Object.fromEntries(entries.map((e) => [e.name, Buffer.from(e.data)]));
    assert.equal(JSON.parse(files['metadata.json'].toString()).id, m.metadata.id);
    assert.equal((await t.app.inject({ url: '/v1/models/nothing/archive' })).statusCode, 404);
  });

  it('unpacks (GNU tar) into a folder that tf.loadLayersModel reads, predicting as the service does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-unpacked-'));
    writeFileSync(join(dir, 'model.tar.gz'), archive);
    execFileSync('tar', ['-xzf', join(dir, 'model.tar.gz'), '-C', dir]);
    rmSync(join(dir, 'model.tar.gz'));
    assert.deepEqual(readdirSync(dir).sort(), ['metadata.json', 'model.json', 'weights.bin']);
    // tfjs reads model.json and fetches the weights file it names, relative to it: served over HTTP here.
    const server: Server = createServer((req, res) => res.end(readFileSync(join(dir, String(req.url).slice(1)))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const model = await tf.loadLayersModel(`http://127.0.0.1:${(server.address() as { port: number }).port}/model.json`);
      const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
      assert.deepEqual(predictInstances(model, metadata.preprocessing, instances), (await predict(t, 'digits')).json().predictions);
      model.dispose();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('model import', () => {
  it('stores the archive as a new model (new id, next version of its name) that predicts identically', async () => {
    const res = await upload(t, archive);
    assert.equal(res.statusCode, 201, res.body);
    const imported = res.json();
    assert.notEqual(imported.id, m.metadata.id);
    assert.equal(imported.name, 'digits');
    assert.equal(imported.version, 2);
    assert.equal(res.headers.location, `/v1/models/${imported.id}`);
    assert.deepEqual({ ...imported.importedFrom, importedAt: undefined }, { id: m.metadata.id, name: 'digits', version: 1, importedAt: undefined });
    assert.deepEqual(imported.tasks, m.metadata.tasks);
    assert.deepEqual((await predict(t, imported.id)).json().predictions, (await predict(t, m.metadata.id)).json().predictions, 'bit-identical');
    assert.equal((await predict(t, 'digits')).json().modelId, imported.id, 'the name now means the import');
  });

  it('imports into another service as version 1 of the name, predicting identically', async () => {
    const res = await upload(other, archive);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().version, 1);
    assert.deepEqual((await predict(other, 'digits')).json().predictions, (await predict(t, 'digits@1')).json().predictions);
    assert.ok(JSON.parse((await other.app.inject({ url: `/v1/models/${res.json().id}` })).body).importedFrom);
  });

  it('refuses corrupt, truncated, oversized and hostile archives with a 4xx problem, storing nothing', async () => {
    const before = storedEntries(t);
    const count = (await t.app.inject({ url: '/v1/models' })).json().models.length;
    const entries = (over: Record<string, string | Buffer> = {}) => ['model.json', 'weights.bin', 'metadata.json'].map((name) => ({ name, data: over[name] ?? files[name] }));
    const modelJson = JSON.parse(files['model.json'].toString());
    const metadata = JSON.parse(files['metadata.json'].toString());
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const cases: [string, Buffer, number, RegExp][] = [
      ['not gzip', Buffer.from('hello'), 400, /not a gzip file/],
      ['corrupt gzip', Buffer.concat([archive.subarray(0, 40), Buffer.alloc(400, 7), archive.subarray(440)]), 400, /corrupt or truncated/],
      ['truncated gzip', archive.subarray(0, archive.length >> 1), 400, /corrupt or truncated/],
      ['truncated tar', gzipSync(gunzipSync(archive).subarray(0, 2000)), 400, /truncated/],
      ['path traversal', craftTarGz([...entries(), { name: '../../../etc/cron.d/evil', data: '* * * * * root sh' }]), 400, /unsafe path/],
      ['absolute path', craftTarGz([{ name: '/tmp/model.json', data: 'x' }, ...entries()]), 400, /unsafe path/],
      ['symlink', craftTarGz([{ name: 'weights.bin', type: '2', linkname: '/etc/passwd' }, ...entries().filter((e) => e.name !== 'weights.bin')]), 400, /symbolic link/],
      ['hard link', craftTarGz([...entries().filter((e) => e.name !== 'metadata.json'), { name: 'metadata.json', type: '1', linkname: '/etc/shadow' }]), 400, /hard link/],
      ['extra file', craftTarGz([...entries(), { name: 'README', data: 'hi' }]), 400, /unexpected entry/],
      ['gzip bomb', bomb, 413, /unpacks to more than the limit of 1048576 bytes/],
      ['weights of the wrong size', craftTarGz(entries({ 'weights.bin': files['weights.bin'].subarray(8) })), 400, /weights.bin has/],
      [
        'a topology that would allocate a huge layer',
        craftTarGz(entries({ 'model.json': JSON.stringify({ ...modelJson, modelTopology: { ...modelJson.modelTopology, config: { ...modelJson.modelTopology.config, layers: modelJson.modelTopology.config.layers.map((l: any) => (l.class_name === 'Dense' ? { ...l, config: { ...l.config, units: 10_000_000 } } : l)) } } }) })),
        400,
        /needs weight '.*\/kernel' of shape \[\d+,10000000\]/,
      ],
      ['metadata without preprocessing', craftTarGz(entries({ 'metadata.json': JSON.stringify({ ...metadata, preprocessing: undefined }) })), 400, /metadata.json is not the metadata of a model: \/preprocessing/],
      ['metadata of other tasks', craftTarGz(entries({ 'metadata.json': JSON.stringify({ ...metadata, preprocessing: { ...metadata.preprocessing, tasks: metadata.preprocessing.tasks.slice(1) } }) })), 400, /outputs .* do not match its tasks/],
      ['metadata with a wrong input size', craftTarGz(entries({ 'metadata.json': JSON.stringify({ ...metadata, preprocessing: { ...metadata.preprocessing, inputSize: 65 } }) })), 400, /inputSize is 65 but the features encode to 64/],
      ['prototype pollution', craftTarGz(entries({ 'metadata.json': `{"__proto__": {"isAdmin": true}, ${files['metadata.json'].toString().slice(1)}` })), 400, /"__proto__" key/],
    ];
    for (const [what, body, status, detail] of cases) {
      const res = await upload(t, body);
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what);
      assert.match(res.json().detail, detail, what);
    }
    const tooBig = await upload(t, Buffer.concat([archive, Buffer.alloc(LIMIT)]));
    assert.equal(tooBig.statusCode, 413, 'a body over MODEL_ARCHIVE_MAX_BYTES');
    assert.equal((await upload(t, archive, 'application/json')).statusCode, 400, 'not JSON');
    assert.equal((await t.app.inject({ method: 'POST', url: '/v1/models', payload: { archive: 'x' } })).statusCode, 415);
    assert.equal((await upload(t, archive, 'text/plain')).statusCode, 415);
    assert.deepEqual(storedEntries(t), before, 'nothing stored, no temporary folder left');
    assert.equal((await t.app.inject({ url: '/v1/models' })).json().models.length, count);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });
});
