import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { DIGITS_CSV } from '../helpers/digits.js';

let t: TestApp;
before(async () => (t = await createTestApp('datasets', { DATASET_MAX_BYTES: '400000' })));
after(async () => t.close());

describe('datasets API', () => {
  it('uploads CSV as a stream and answers 201 with rows and column types', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets?name=digits', headers: { 'content-type': 'text/csv' }, payload: createReadStream(DIGITS_CSV) });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.name, 'digits');
    assert.equal(body.rows, 1797);
    assert.equal(res.headers.location, `/v1/datasets/${body.id}`);
    const types = Object.fromEntries(body.columns.map((c: { name: string; type: string }) => [c.name, c.type]));
    assert.equal(types.p10, 'numeric');
    assert.equal(types.parity, 'categorical');
    assert.equal(types.tags, 'multilabel');
    const got = await t.app.inject({ url: `/v1/datasets/${body.id}` });
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().rows, 1797);
    const list = await t.app.inject({ url: '/v1/datasets' });
    assert.ok(list.json().datasets.some((d: { id: string }) => d.id === body.id));
  });

  it('uploads NDJSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets?name=nd',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: '{"a":1,"t":["x","y"]}\n{"a":2,"t":null}\n',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().columns.map((c: { type: string }) => c.type), ['numeric', 'multilabel']);
  });

  it('refuses a wrong content type with 415 naming the header', async () => {
    for (const type of ['application/json', 'text/plain', 'application/xml']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': type }, payload: type === 'application/json' ? '{"a":1}' : 'a,b' });
      assert.equal(res.statusCode, 415, `${type}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().errors[0].pointer, '/headers/content-type');
    }
  });

  it('refuses malformed and oversized uploads with a 4xx problem, and stores nothing', async () => {
    const before = (await t.app.inject({ url: '/v1/datasets' })).json().datasets.length;
    const bad = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'a,b\n1,2\n1,2,3\n' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().detail, /line 3/);
    const badJson = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'application/x-ndjson' }, payload: '{"a":1}\nnot json\n' });
    assert.equal(badJson.statusCode, 400);
    assert.match(badJson.json().detail, /line 2/);
    const big = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'a\n' + '12345\n'.repeat(100_000) });
    assert.equal(big.statusCode, 413);
    const badName = await t.app.inject({ method: 'POST', url: `/v1/datasets?name=${'x'.repeat(300)}`, headers: { 'content-type': 'text/csv' }, payload: 'a\n1\n' });
    assert.equal(badName.statusCode, 400);
    assert.equal(badName.json().errors[0].pointer, '/querystring/name');
    assert.equal((await t.app.inject({ url: '/v1/datasets' })).json().datasets.length, before);
  });

  it('refuses an NDJSON number too large for a double (1e309) with a 400 naming the line and column, instead of storing it as missing', async () => {
    for (const [payload, line, column] of [
      ['{"a":1,"b":2}\n{"a":1e309,"b":3}\n', 2, 'a'],
      ['{"a":1}\n\n{"a":2}\n{"a":3,"tags":[1,-1e999]}\n', 4, 'tags'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'application/x-ndjson' }, payload });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(res.json().detail, new RegExp(`^line ${line}: field '${column}' .*too large`));
    }
  });

  it('answers 404 for unknown ids, path traversal included', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', '..%2F..%2Fetc', 'x']) {
      const res = await t.app.inject({ url: `/v1/datasets/${id}` });
      assert.equal(res.statusCode, 404, id);
      assert.equal(res.json().status, 404);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}` })).statusCode, 404);
    }
  });

  it('deletes a dataset', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'a\n1\n' });
    const { id } = res.json();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}` })).statusCode, 204);
    assert.equal((await t.app.inject({ url: `/v1/datasets/${id}` })).statusCode, 404);
  });
});

describe('huge cells: the documented record limit, small samples, small lists', () => {
  let big: TestApp;
  before(async () => (big = await createTestApp('datasets-records')));
  after(async () => big.close());

  const upload = (type: string, payload: string) => big.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': type }, payload });

  it('a CSV record or NDJSON line over DATASET_MAX_RECORD_BYTES (1 MB by default) is a 400 naming the line and the setting', async () => {
    const before = (await big.app.inject({ url: '/v1/datasets' })).json().datasets.length;
    const csv = await upload('text/csv', 'a,b\n1,2\n3,' + 'x'.repeat(1_100_000) + '\n5,6\n');
    assert.equal(csv.statusCode, 400, csv.body.slice(0, 300));
    assert.equal(csv.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(csv.json().detail, /line 3: .*DATASET_MAX_RECORD_BYTES/);
    assert.ok(csv.body.length < 2000, `a short answer (${csv.body.length} bytes)`);
    const quoted = await upload('text/csv', 'a,b\n1,"' + 'x\n'.repeat(600_000) + '"\n');
    assert.equal(quoted.statusCode, 400, quoted.body.slice(0, 300));
    assert.match(quoted.json().detail, /line 2: .*DATASET_MAX_RECORD_BYTES/);
    const nd = await upload('application/x-ndjson', '{"a":1}\n{"a":"' + 'x'.repeat(1_100_000) + '"}\n');
    assert.equal(nd.statusCode, 400, nd.body.slice(0, 300));
    assert.match(nd.json().detail, /line 2: .*DATASET_MAX_RECORD_BYTES/);
    assert.equal((await big.app.inject({ url: '/v1/datasets' })).json().datasets.length, before, 'nothing stored');
  });

  it('column samples hold a few dozen characters of each value; the list holds summaries, the detail the columns', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => `${i},${String(i).padStart(6, '0')}${'y'.repeat(50_000)},short${i % 3}`);
    const res = await upload('text/csv', 'n,long,cat\n' + rows.join('\n') + '\n');
    assert.equal(res.statusCode, 201, res.body.slice(0, 300));
    const samples = (body: { columns: { name: string; sample: unknown[] }[] }) => Object.fromEntries(body.columns.map((c) => [c.name, c.sample]));
    for (const body of [res.json(), (await big.app.inject({ url: `/v1/datasets/${res.json().id}` })).json()]) {
      const s = samples(body);
      assert.ok(s.long.length > 0 && s.long.every((v) => typeof v === 'string' && v.length <= 64 && v.endsWith('…')), JSON.stringify(s.long).slice(0, 200));
      assert.ok(String(s.long[0]).startsWith('000000yyy'), 'the start of the value');
      assert.deepEqual(s.cat, ['short0', 'short1', 'short2']);
      assert.deepEqual(s.n.slice(0, 3), [0, 1, 2]);
      assert.ok(JSON.stringify(body).length < 10_000, `${JSON.stringify(body).length} bytes`);
    }
    const list = await big.app.inject({ url: '/v1/datasets' });
    assert.equal(list.statusCode, 200);
    const item = list.json().datasets.find((d: { id: string }) => d.id === res.json().id);
    assert.deepEqual(
      { rows: item.rows, columnCount: item.columnCount, columnTypes: item.columnTypes, columns: item.columns },
      { rows: 30, columnCount: 3, columnTypes: { numeric: 1, categorical: 2 }, columns: undefined },
    );
    assert.ok(!list.body.includes('yyyy'), 'no cell values in the list');
  });
});
