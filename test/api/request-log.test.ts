import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loggerOptions } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * What the API logs per request: at `info`, nothing for a request that went well and fast; one
 * line, with its request id, for a refusal (4xx), a failure (5xx) or a slow request; at `debug`,
 * one line per request.
 */

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  [key: string]: unknown;
}

async function logged(name: string, level: string, env: Record<string, string> = {}): Promise<{ t: TestApp; lines: Line[]; of: (reqId: string) => Line[] }> {
  const lines: Line[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line)), done()) });
  const t = await createTestApp(name, env, { logger: pino({ ...loggerOptions(level, 'api'), transport: undefined }, sink) });
  return { t, lines, of: (reqId) => lines.filter((l) => l.reqId === reqId) };
}

describe('request logs at info', () => {
  let t: TestApp;
  let lines: Line[];
  let of: (reqId: string) => Line[];
  before(async () => ({ t, lines, of } = await logged('reqlog-info', 'info', { LOG_SLOW_REQUEST_MS: '2000' })));
  after(async () => t.close());

  it('writes nothing for requests that went well', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      for (const url of ['/v1/datasets', '/health/live', '/v1/models']) {
        const res = await t.app.inject({ url });
        assert.equal(res.statusCode, 200);
        ids.push(String(res.headers['x-request-id']));
      }
    }
    assert.deepEqual(lines.filter((l) => ids.includes(l.reqId ?? '')), []);
  });

  it('one line for a refusal, with its request id, status and detail', async () => {
    for (const [url, status] of [['/v1/datasets/00000000-0000-4000-8000-000000000000', 404], ['/no/such/route?token=secret-value', 404], [`/v1/datasets/${'a'.repeat(150)}`, 414]] as const) {
      const res = await t.app.inject({ url, headers: { 'x-request-id': `refused-${status}-${url.length}` } });
      assert.equal(res.statusCode, status);
      const mine = of(`refused-${status}-${url.length}`);
      assert.equal(mine.length, 1, JSON.stringify(mine));
      assert.equal(mine[0].level, 30);
      assert.equal(mine[0].msg, 'request refused');
      assert.equal((mine[0].res as { statusCode: number }).statusCode, status);
      assert.equal(typeof mine[0].detail, 'string');
      assert.ok(!JSON.stringify(mine[0]).includes('secret-value'));
    }
  });

  it('one error line, with the error, for a failure', async () => {
    const list = t.services.datasets.list;
    t.services.datasets.list = async () => {
      throw new Error('disk on fire');
    };
    try {
      const res = await t.app.inject({ url: '/v1/datasets', headers: { 'x-request-id': 'failed-1' } });
      assert.equal(res.statusCode, 500);
    } finally {
      t.services.datasets.list = list;
    }
    const mine = of('failed-1');
    assert.equal(mine.length, 1, JSON.stringify(mine));
    assert.equal(mine[0].level, 50);
    assert.equal((mine[0].err as { message: string }).message, 'disk on fire');
    assert.equal((mine[0].req as { url: string }).url, '/v1/datasets');
  });
});

describe('slow requests and debug', () => {
  it('one line for a request slower than LOG_SLOW_REQUEST_MS', async () => {
    const { t, of } = await logged('reqlog-slow', 'info', { LOG_SLOW_REQUEST_MS: '50' });
    try {
      const list = t.services.datasets.list;
      t.services.datasets.list = async () => {
        await new Promise((r) => setTimeout(r, 120));
        return list.call(t.services.datasets);
      };
      assert.equal((await t.app.inject({ url: '/v1/datasets', headers: { 'x-request-id': 'slow-1' } })).statusCode, 200);
      t.services.datasets.list = list;
      const mine = of('slow-1');
      assert.equal(mine.length, 1, JSON.stringify(mine));
      assert.equal(mine[0].msg, 'slow request');
      assert.ok((mine[0].responseTime as number) >= 100);
    } finally {
      await t.close();
    }
  });

  it('at debug, one line per request', async () => {
    const { t, of } = await logged('reqlog-debug', 'debug');
    try {
      assert.equal((await t.app.inject({ url: '/v1/datasets', headers: { 'x-request-id': 'debug-1' } })).statusCode, 200);
      const mine = of('debug-1');
      assert.equal(mine.length, 1, JSON.stringify(mine));
      assert.equal(mine[0].level, 20);
      assert.equal(mine[0].msg, 'request completed');
      assert.equal((mine[0].req as { method: string }).method, 'GET');
    } finally {
      await t.close();
    }
  });
});
