import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { paginate } from '../../src/api/pagination.js';

let t: TestApp;
before(async () => (t = await createTestApp('pagination')));
after(async () => t.close());

/** Every page of `url`, following nextCursor. */
async function allPages(url: string, key: string, limit: number): Promise<{ pages: number; ids: string[] }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const res = await t.app.inject({ url: `${url}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.ok(body[key].length <= limit);
    ids.push(...body[key].map((x: { id: string }) => x.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor && pages < 20);
  return { pages, ids };
}

describe('lists in pages (limit, cursor)', () => {
  it('paginate: a stable order, no repeats or gaps when items are deleted between pages', () => {
    const items = [3, 1, 4, 5, 9, 2, 6].map((n) => ({ id: `id-${n}`, at: n % 3 }));
    const key = (i: { id: string; at: number }): [number, string] => [i.at, i.id];
    const first = paginate(items, key, { limit: '3' });
    assert.deepEqual(first.page.map((i) => i.id), ['id-5', 'id-2', 'id-4']);
    const rest = items.filter((i) => i.id !== 'id-4' && i.id !== 'id-1'); // the last served and a later one vanish
    const second = paginate(rest, key, { limit: '3', cursor: first.nextCursor });
    assert.deepEqual(second.page.map((i) => i.id), ['id-9', 'id-6', 'id-3']);
    assert.equal(second.nextCursor, undefined, 'the last page has no next cursor');
  });

  it('datasets and jobs page through everything newest first; a bad cursor is a 400 naming it', async () => {
    const datasets: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'POST', url: `/v1/datasets?name=d${i}`, headers: { 'content-type': 'text/csv' }, payload: 'x,y\n1,a\n2,b\n3,a\n' });
      assert.equal(res.statusCode, 201, res.body);
      datasets.push(res.json().id);
    }
    const paged = await allPages('/v1/datasets', 'datasets', 2);
    assert.equal(paged.pages, 3);
    const whole = (await t.app.inject({ url: '/v1/datasets' })).json();
    assert.deepEqual(paged.ids, whole.datasets.map((d: { id: string }) => d.id), 'pages in the order of the whole list');
    assert.deepEqual([...paged.ids].sort(), [...datasets].sort());
    assert.equal(whole.nextCursor, undefined);

    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: { datasetId: datasets[0], tasks: [{ name: 'y', type: 'binary' }], training: { epochs: 1 } } });
      assert.equal(res.statusCode, 202, res.body);
      jobs.push(res.json().id);
    }
    const jobPages = await allPages('/v1/jobs', 'jobs', 2);
    assert.equal(jobPages.pages, 2);
    assert.deepEqual([...jobPages.ids].sort(), [...jobs].sort());

    for (const url of ['/v1/jobs?cursor=nonsense', '/v1/datasets?cursor=W10', '/v1/models?cursor=e30']) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().errors[0].pointer, '/querystring/cursor');
    }
    assert.equal((await t.app.inject({ url: '/v1/jobs?limit=0' })).statusCode, 400);
    assert.equal((await t.app.inject({ url: '/v1/models?limit=2' })).json().models.length, 0);
  });
});
