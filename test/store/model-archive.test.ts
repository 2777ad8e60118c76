import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { ModelArchiveError, packModelArchive, unpackModelArchive } from '../../src/store/model-archive.js';
import { ModelStore } from '../../src/store/model-store.js';
import { PayloadTooLargeError } from '../../src/store/store-errors.js';
import { readTar, writeTar } from '../../src/store/tar.js';
import { useTestBackend } from '../helpers/backend.js';
import { trainDigitsModel } from '../helpers/digits-model.js';
import { craftTar, craftTarGz, type CraftedEntry } from '../helpers/tar-craft.js';

/**
 * Model archives (.tar.gz of model.json, weights.bin, metadata.json): what GNU tar makes and reads,
 * and every way a hostile or broken archive is refused before anything is written.
 */
let dir: string;
let files: { name: string; data: Buffer }[];
const file = (name: string) => files.find((f) => f.name === name)!.data;
const LIMIT = 8 * 1024 * 1024;

before(async () => {
  await useTestBackend();
  dir = mkdtempSync(join(tmpdir(), 'mtl-archive-'));
  const store = new ModelStore(join(dir, 'models'));
  const model = await trainDigitsModel({ epochs: 1 });
  await store.save(model.metadata, model.artifacts);
  model.dispose();
  files = await store.files(model.metadata.id);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const entries = (over: Partial<Record<'model.json' | 'weights.bin' | 'metadata.json', Buffer | string>> = {}): CraftedEntry[] =>
  (['model.json', 'weights.bin', 'metadata.json'] as const).map((name) => ({ name, data: over[name] ?? file(name) }));

async function refused(archive: Buffer, pattern: RegExp, kind: new (...args: never[]) => Error = ModelArchiveError) {
  await assert.rejects(unpackModelArchive(archive, LIMIT), (err: Error) => {
    assert.ok(err instanceof kind, `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('ustar writer and reader', () => {
  it('round-trips files, and GNU tar reads what it writes', () => {
    const tar = writeTar(files.map((f) => ({ name: f.name, data: f.data, mtime: 1_700_000_000 })));
    assert.equal(tar.length % 512, 0);
    const read = readTar(tar);
    assert.deepEqual(read.map((e) => [e.name, e.type, e.size]), files.map((f) => [f.name, 'file', f.data.length]));
    read.forEach((e, i) => assert.ok(e.data.equals(files[i].data)));
    const out = mkdtempSync(join(dir, 'x-'));
    writeFileSync(join(out, 'a.tar'), tar);
    const listing = execFileSync('tar', ['-tvf', join(out, 'a.tar')], { encoding: 'utf8' });
    assert.equal(listing.trim().split('\n').length, 3);
    for (const line of listing.trim().split('\n')) assert.match(line, /^-rw-r--r-- /, 'regular files, mode 644');
    execFileSync('tar', ['-xf', join(out, 'a.tar'), '-C', out]);
    for (const f of files) assert.ok(readFileSync(join(out, f.name)).equals(f.data), `${f.name} unpacked as written`);
  });

  it('reads archives made by GNU tar: plain names, ./ names, and a folder with its ./ entry', async () => {
    const src = mkdtempSync(join(dir, 'src-'));
    const out = mkdtempSync(join(dir, 'out-'));
    for (const f of files) writeFileSync(join(src, f.name), f.data);
    execFileSync('tar', ['-czf', join(out, 'plain.tar.gz'), '-C', src, 'model.json', 'weights.bin', 'metadata.json']);
    execFileSync('tar', ['-czf', join(out, 'dot.tar.gz'), '-C', src, './model.json', './weights.bin', './metadata.json']);
    execFileSync('tar', ['-czf', join(out, 'folder.tar.gz'), '-C', src, '.']);
    assert.match(execFileSync('tar', ['-tzvf', join(out, 'folder.tar.gz')], { encoding: 'utf8' }), /^d.* \.\/$/m, 'GNU tar wrote the ./ directory entry');
    for (const archive of ['plain', 'dot', 'folder']) {
      const { artifacts, metadata } = await unpackModelArchive(readFileSync(join(out, `${archive}.tar.gz`)), LIMIT);
      assert.equal((metadata as { id: string }).id, JSON.parse(file('metadata.json').toString()).id, archive);
      assert.ok(Buffer.from(artifacts.weightData).equals(file('weights.bin')), archive);
    }
  });
});

describe('model archives', () => {
  it('packs the three files so that unpacking gives them back', async () => {
    const archive = await packModelArchive(files, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual([...archive.subarray(0, 2)], [0x1f, 0x8b]);
    const { artifacts, metadata } = await unpackModelArchive(archive, LIMIT);
    const modelJson = JSON.parse(file('model.json').toString());
    assert.deepEqual(artifacts.modelTopology, modelJson.modelTopology);
    assert.deepEqual(artifacts.weightSpecs, modelJson.weightsManifest[0].weights);
    assert.ok(Buffer.from(artifacts.weightData).equals(file('weights.bin')));
    assert.deepEqual(metadata, JSON.parse(file('metadata.json').toString()));
  });

  it('refuses what is not a gzip file, corrupt gzip and truncated gzip', async () => {
    await refused(craftTar(entries()), /not a gzip file/);
    const good = craftTarGz(entries());
    const corrupt = Buffer.from(good);
    for (let i = 20; i < 60; i++) corrupt[i] ^= 0xa5;
    await refused(corrupt, /corrupt or truncated/);
    await refused(good.subarray(0, Math.floor(good.length / 2)), /corrupt or truncated/);
    await refused(good.subarray(0, good.length - 4), /corrupt or truncated/);
  });

  it('refuses a tar that is truncated, lies about an entry size, or has a bad checksum', async () => {
    const tar = craftTar(entries());
    await refused(gzipSync(tar.subarray(0, 512 + 100)), /truncated/);
    await refused(gzipSync(tar.subarray(0, 700)), /truncated/);
    await refused(craftTarGz([{ name: 'weights.bin', data: 'abc', size: 0o77777777777 }]), /truncated: 8589934591 bytes announced/);
    await refused(craftTarGz([{ ...entries()[0], badChecksum: true }, ...entries().slice(1)]), /checksum/);
    await refused(gzipSync(Buffer.alloc(4096)), /no entries/);
    await refused(gzipSync(Buffer.from('just some text, not a tar archive at all'.repeat(20))), /checksum|truncated/);
  });

  it('refuses entry names that leave the archive folder', async () => {
    for (const name of ['../model.json', '/etc/passwd', 'a/../../weights.bin', './../metadata.json', '..', 'x\\..\\model.json']) {
      await refused(craftTarGz([...entries(), { name, data: 'x' }]), /unsafe path/);
      await refused(craftTarGz([{ name, data: 'x' }, ...entries()]), /unsafe path/);
    }
  });

  it('refuses links, devices, pax and GNU headers, and directories, even under the expected names', async () => {
    const cases: [CraftedEntry, RegExp][] = [
      [{ name: 'model.json', type: '2', linkname: '/etc/passwd' }, /'model.json' is a symbolic link/],
      [{ name: 'weights.bin', type: '1', linkname: 'model.json' }, /'weights.bin' is a hard link/],
      [{ name: 'metadata.json', type: '3' }, /character device/],
      [{ name: 'fifo', type: '6' }, /fifo/],
      [{ name: 'PaxHeaders/model.json', type: 'x', data: '30 path=../../../etc/passwd\n' }, /pax header/],
      [{ name: '././@LongLink', type: 'L', data: '../../evil' }, /GNU long name/],
      [{ name: 'models/', type: '5' }, /'models\/' is a directory/],
    ];
    for (const [entry, pattern] of cases) await refused(craftTarGz([entry, ...entries()]), pattern);
  });

  it('refuses other files, repeated files and missing files', async () => {
    await refused(craftTarGz([...entries(), { name: 'install.sh', data: 'rm -rf /' }]), /unexpected entry 'install.sh'/);
    await refused(craftTarGz([...entries(), { name: 'model.json', data: file('model.json') }]), /'model.json' appears twice/);
    await refused(craftTarGz(entries().filter((e) => e.name !== 'weights.bin')), /lacks weights.bin/);
    await refused(craftTarGz(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, data: '' }))), /more than 16 entries/);
  });

  it('stops a gzip bomb at the limit, without inflating it', async () => {
    // 512 MiB of zeros inflates from about 500 kB; the limit is 8 MiB.
    const chunk = Buffer.alloc(1 << 20);
    let left = 512;
    const source = new Readable({ read() { this.push(left-- > 0 ? chunk : null); } });
    const parts: Buffer[] = [];
    for await (const part of source.pipe(createGzip({ level: 9 }))) parts.push(part as Buffer);
    const bomb = Buffer.concat(parts);
    assert.ok(bomb.length < 2_000_000, `the bomb is small (${bomb.length} bytes)`);
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    await refused(bomb, /unpacks to more than the limit of 8388608 bytes/, PayloadTooLargeError);
    assert.ok(performance.now() - started < 5000, 'stopped early');
    assert.ok(process.memoryUsage().rss - rss < 200 * 1024 * 1024, 'never held the inflated bytes');
  });

  it('refuses a model.json that is not a layers model of weights.bin, and metadata that could pollute prototypes', async () => {
    const modelJson = JSON.parse(file('model.json').toString());
    const variant = (change: (m: any) => void) => {
      const m = structuredClone(modelJson);
      change(m);
      return JSON.stringify(m);
    };
    await refused(craftTarGz(entries({ 'model.json': '{"modelTopology": ' })), /model.json is not valid JSON/);
    await refused(craftTarGz(entries({ 'model.json': variant((m) => delete m.modelTopology) })), /no modelTopology/);
    await refused(craftTarGz(entries({ 'model.json': variant((m) => (m.weightsManifest[0].paths = ['../../../etc/shadow'])) })), /must name weights.bin/);
    await refused(craftTarGz(entries({ 'model.json': variant((m) => m.weightsManifest.push(m.weightsManifest[0])) })), /one weightsManifest group/);
    await refused(craftTarGz(entries({ 'model.json': variant((m) => (m.weightsManifest[0].weights[0].shape = [64, 1e9])) })), /weights.bin has \d+ bytes but the manifest of model.json describes 256000\d+/);
    await refused(craftTarGz(entries({ 'model.json': variant((m) => (m.weightsManifest[0].weights[0].dtype = 'complex64')) })), /dtype "complex64"/);
    await refused(craftTarGz(entries({ 'weights.bin': file('weights.bin').subarray(4) })), /weights.bin has \d+ bytes but the manifest of model.json describes \d+/);
    await refused(craftTarGz(entries({ 'metadata.json': '{"name": "x", "__proto__": {"polluted": true}}' })), /"__proto__" key/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('reads its own archives back whatever the entry order', async () => {
    const archive = craftTarGz(entries().reverse());
    const { artifacts } = await unpackModelArchive(archive, LIMIT);
    assert.ok(Buffer.from(artifacts.weightData).equals(file('weights.bin')));
    assert.equal(gunzipSync(archive).length % 512, 0);
  });
});
