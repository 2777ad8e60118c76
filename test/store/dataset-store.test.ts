import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DatasetStore } from '../../src/store/dataset-store.js';
import { DatasetFormatError, PayloadTooLargeError } from '../../src/store/store-errors.js';
import { NotFoundError } from '../../src/shared/not-found-error.js';

const dir = mkdtempSync(join(tmpdir(), 'mtl-ds-'));
const store = new DatasetStore(dir);
const body = (text: string) => Readable.from([Buffer.from(text)]);
after(() => rmSync(dir, { recursive: true, force: true }));

describe('dataset store', () => {
  it('stores a CSV upload, infers types, treats empty / NA / null as missing', async () => {
    const csv = 'x,colour,tags,price\n1,red,a|b,10\n2,,b,NA\n,blue,,null\n';
    const info = await store.create('shop', 'csv', body(csv), 1e6);
    assert.equal(info.rows, 3);
    assert.deepEqual(info.columns.map((c) => [c.name, c.type, c.missing]), [
      ['x', 'numeric', 1],
      ['colour', 'categorical', 1],
      ['tags', 'multilabel', 1],
      ['price', 'numeric', 2],
    ]);
    const { rows } = await store.readRows(info.id);
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      { x: 1, colour: 'red', tags: 'a|b', price: 10 },
      { x: 2, colour: null, tags: 'b', price: null },
      { x: null, colour: 'blue', tags: null, price: null },
    ]);
    assert.equal((await store.get(info.id)).name, 'shop');
  });

  it('stores NDJSON with lists, nulls and absent keys', async () => {
    const nd = '{"x": 1, "tags": ["a", "b"], "ok": true}\n\n{"x": 2.5, "tags": [], "ok": false}\n{"tags": null}\n';
    const info = await store.create('nd', 'ndjson', body(nd), 1e6);
    assert.equal(info.rows, 3);
    const byName = Object.fromEntries(info.columns.map((c) => [c.name, c]));
    assert.equal(byName.x.type, 'numeric');
    assert.equal(byName.x.missing, 1);
    assert.equal(byName.tags.type, 'multilabel');
    assert.equal(byName.ok.type, 'boolean');
    const { rows } = await store.readRows(info.id);
    assert.deepEqual(rows[0].tags, ['a', 'b']);
  });

  it('streams rows to the engine: every scan the same rows, typed, no inherited member read as a cell', async () => {
    const csv = 'x,constructor,label\n1,a,yes\n2,,no\nNA,b,yes\n';
    const info = await store.create('scan', 'csv', body(csv), 1e6);
    const { source } = await store.rowSource(info.id);
    assert.equal(source.count, 3);
    const scans: unknown[][] = [[], []];
    for (const seen of scans) await source.scan((row, i) => void seen.push([i, row.x, row.constructor, row.label]));
    assert.deepEqual(scans[0], [[0, 1, 'a', 'yes'], [1, 2, null, 'no'], [2, null, 'b', 'yes']]);
    assert.deepEqual(scans[1], scans[0]);
    const nd = await store.create('nd-scan', 'ndjson', body('{"toString": 1, "y": 2}\n{"y": 3}\n'), 1e6);
    const rows: unknown[] = [];
    await (await store.rowSource(nd.id)).source.scan((row) => void rows.push([row.toString, row.y]));
    assert.deepEqual(rows, [[1, 2], [null, 3]], 'an absent column named like an Object member is a missing cell');
    await store.delete(nd.id);
    const gone = (await store.rowSource(info.id)).source;
    rmSync(join(dir, info.id), { recursive: true });
    await assert.rejects(gone.scan(() => undefined), NotFoundError);
  });

  it('stores rows as arrays in column order (a column first seen later: earlier rows lack it) and still reads rows stored as objects', async () => {
    const info = await store.create('late', 'ndjson', body('{"a": 1}\n{"a": 2, "b": "x"}\n'), 1e6);
    const file = join(dir, info.id, 'rows.ndjson');
    assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n'), ['[1]', '[2,"x"]']);
    const cells: unknown[] = [];
    const { source } = await store.rowSource(info.id);
    await source.scanColumns(['b', 'nope', 'a'], (c, i) => void cells.push([i, ...c]));
    assert.deepEqual(cells, [[0, null, null, 1], [1, 'x', null, 2]]);
    // A dataset written before the array format: one object a line, cells as uploaded.
    writeFileSync(file, '{"a": "3"}\n{"b": "y", "a": 4}\n');
    const old: unknown[] = [];
    await source.scanColumns(['a', 'b'], (c) => void old.push([...c]));
    assert.deepEqual(old, [[3, null], [4, 'y']]);
    assert.deepEqual((await store.readRows(info.id)).rows.map((r) => ({ ...r })), [{ a: 3, b: null }, { a: 4, b: 'y' }]);
  });

  it('refuses malformed uploads with the line, and keeps nothing of them', async () => {
    const before = (await store.list()).length;
    await assert.rejects(store.create('bad', 'csv', body('a,b\n1,2\n3,4,5\n'), 1e6), (e: unknown) => e instanceof DatasetFormatError && /line 3/.test(e.message));
    await assert.rejects(store.create('bad', 'csv', body('a,a\n1,2\n'), 1e6), /appears twice/);
    await assert.rejects(store.create('bad', 'csv', body('a,b\n'), 1e6), /no rows/);
    await assert.rejects(store.create('bad', 'ndjson', body('{"a":1}\n{"a":\n'), 1e6), (e: unknown) => e instanceof DatasetFormatError && /line 2/.test(e.message));
    await assert.rejects(store.create('bad', 'ndjson', body('[1,2]\n'), 1e6), /JSON object/);
    await assert.rejects(store.create('bad', 'ndjson', body('{"a":{"b":1}}\n'), 1e6), /field 'a'/);
    await assert.rejects(store.create('big', 'csv', body('a\n' + '1\n'.repeat(1000)), 100), PayloadTooLargeError);
    assert.equal((await store.list()).length, before);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.tmp')), []);
  });

  it('treats ids that are not ours (path traversal included) as unknown', async () => {
    for (const id of ['../../etc', 'nope', '..', '00000000-0000-0000-0000-000000000000'])
      await assert.rejects(store.get(id), NotFoundError);
  });

  it('cuts the samples of datasets stored before samples were cut (on reading), and lists summaries', async () => {
    const info = await store.create('old', 'csv', body('a,b\n1,x\n'), 1e6);
    const meta = join(dir, info.id, 'dataset.json');
    const stored = JSON.parse(readFileSync(meta, 'utf8'));
    stored.columns[1].sample = ['z'.repeat(100_000)];
    writeFileSync(meta, JSON.stringify(stored));
    assert.deepEqual((await store.get(info.id)).columns[1].sample, ['z'.repeat(47) + '…']);
    assert.equal(JSON.parse(readFileSync(meta, 'utf8')).columns[1].sample[0].length, 100_000, 'the stored file is left as it is');
    const listed = (await store.list()).find((d) => d.id === info.id);
    assert.deepEqual(listed, { id: info.id, name: 'old', format: 'csv', rows: 1, bytes: info.bytes, createdAt: info.createdAt, columnCount: 2, columnTypes: { numeric: 1, categorical: 1 } });
  });

  it('deletes', async () => {
    const info = await store.create('tmp', 'csv', body('a\n1\n'), 1e6);
    await store.delete(info.id);
    await assert.rejects(store.get(info.id), NotFoundError);
  });
});
