import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The HTTP connection itself, against a listening app: a refused streamed upload does not leave
 * its keep-alive connection stalled on the unread rest of the body.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One keep-alive connection, spoken to in raw HTTP/1.1: each `request` waits for one whole response (or fails after `timeoutMs`). */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined); // a reset is seen as `closed`
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /**
   * Writes a request (head and body) and waits for its response. A stalled connection never
   * answers (the keep-alive timeout is 72 s); a few seconds is plenty for one that works.
   */
  async request(head: string, body: Buffer | string = '', timeoutMs = 10_000): Promise<RawResponse> {
    this.socket.write(head + '\r\n');
    if (body.length > 0) this.socket.write(body);
    return this.response(timeoutMs);
  }

  response(timeoutMs: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        const parsed = this.take();
        if (parsed || this.closed) {
          clearTimeout(timer);
          this.waiting = null;
          if (parsed) resolve(parsed);
          else reject(new Error('the connection closed before a response came'));
        }
      };
      this.waiting = check;
      check();
    });
  }

  /** A whole response off the front of the buffer (Content-Length bodies only, which is all this API sends here). */
  private take(): RawResponse | null {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return null;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }

  close(): void {
    this.socket.destroy();
  }
}

const post = (path: string, type: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n`;
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n`;

/** The reproduction: a 2 MB CSV whose second line is already wrong. */
const BAD_CSV = Buffer.from('a,b\n1\n' + '1,2\n'.repeat(500_000));

async function listening(name: string, env: Record<string, string> = {}): Promise<{ t: TestApp; port: number }> {
  const t = await createTestApp(name, env);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, port: (t.app.server.address() as AddressInfo).port };
}

describe('a refused streamed upload leaves its connection usable', () => {
  let t: TestApp;
  let port: number;
  before(async () => ({ t, port } = await listening('conn-drain', { DATASET_MAX_BYTES: '200000' })));
  after(async () => t.close());

  it('400 on a malformed 2 MB CSV, then the next request on the same socket answers at once', async () => {
    const conn = await RawConnection.open(port);
    try {
      const refused = await conn.request(post('/v1/datasets?name=x', 'text/csv', BAD_CSV.length), BAD_CSV, 60_000);
      assert.equal(refused.status, 400, refused.body);
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(JSON.parse(refused.body).detail, /line 2/);
      const next = await conn.request(get('/v1/datasets'));
      assert.equal(next.status, 200, next.body);
      assert.equal(conn.closed, false, 'the same socket served both');
    } finally {
      conn.close();
    }
  });

  it('413 past DATASET_MAX_BYTES, then the next request on the same socket answers at once', async () => {
    const big = Buffer.from('a,b\n' + '1,2\n'.repeat(500_000));
    const conn = await RawConnection.open(port);
    try {
      const refused = await conn.request(post('/v1/datasets', 'text/csv', big.length), big, 60_000);
      assert.equal(refused.status, 413, refused.body);
      const next = await conn.request(get('/health/live'));
      assert.equal(next.status, 200, next.body);
    } finally {
      conn.close();
    }
  });

  it('an NDJSON upload refused mid-stream: the same', async () => {
    const bad = Buffer.from('{"a":1}\nnot json\n' + '{"a":2}\n'.repeat(300_000));
    const conn = await RawConnection.open(port);
    try {
      const refused = await conn.request(post('/v1/datasets', 'application/x-ndjson', bad.length), bad, 60_000);
      assert.equal(refused.status, 400, refused.body);
      const next = await conn.request(get('/v1/datasets'));
      assert.equal(next.status, 200, next.body);
    } finally {
      conn.close();
    }
  });
});

describe('a refused upload longer than UNREAD_BODY_MAX_BYTES', () => {
  let t: TestApp;
  let port: number;
  before(async () => ({ t, port } = await listening('conn-close', { UNREAD_BODY_MAX_BYTES: '100000' })));
  after(async () => t.close());

  it('is answered with Connection: close, and the socket closes after the reply', async () => {
    const conn = await RawConnection.open(port);
    try {
      const refused = await conn.request(post('/v1/datasets', 'text/csv', BAD_CSV.length), BAD_CSV, 60_000);
      assert.equal(refused.status, 400, refused.body);
      assert.equal(refused.headers.connection, 'close');
      await new Promise((resolve) => (conn.closed ? resolve(null) : conn.socket.once('close', resolve)));
    } finally {
      conn.close();
    }
  });

  it('a chunked body (no Content-Length) is drained up to the limit, then its socket is closed', async () => {
    const conn = await RawConnection.open(port);
    try {
      conn.socket.write('POST /v1/datasets HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = (data: string) => conn.socket.write(`${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`);
      chunk('a,b\n1\n');
      const refused = await conn.response(60_000);
      assert.equal(refused.status, 400, refused.body);
      const closed = new Promise((resolve) => (conn.closed ? resolve(null) : conn.socket.once('close', resolve)));
      for (let i = 0; i < 20 && !conn.closed; i++) chunk('1,2\n'.repeat(10_000)); // 800 kB: past the limit
      await closed;
    } finally {
      conn.close();
    }
  });
});

describe('shutting down', () => {
  it('a request arriving on an open connection while the server closes gets a 503 problem with Retry-After', async () => {
    const { t, port } = await listening('conn-closing');
    const conn = await RawConnection.open(port);
    let closed: Promise<void> | undefined;
    try {
      // An upload in flight keeps the connection open while the server closes...
      const body = Buffer.from('a,b\n' + '1,2\n'.repeat(1000));
      conn.socket.write(post('/v1/datasets', 'text/csv', body.length) + '\r\n');
      conn.socket.write(body.subarray(0, 100));
      await new Promise((r) => setTimeout(r, 200));
      closed = t.app.close();
      await new Promise((r) => setTimeout(r, 200));
      // ...then it ends, and the next request comes on the same connection.
      conn.socket.write(body.subarray(100));
      conn.socket.write(get('/v1/datasets') + '\r\n');
      const upload = await conn.response(30_000);
      assert.equal(upload.status, 201, upload.body);
      const refused = await conn.response(10_000);
      assert.equal(refused.status, 503, refused.body);
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(JSON.parse(refused.body).status, 503);
      assert.equal(refused.headers['retry-after'], '5');
      assert.equal(refused.headers.connection, 'close');
    } finally {
      conn.close();
      await closed;
      await t.close();
    }
  });
});

describe('requests refused before routing are problems too', () => {
  let t: TestApp;
  let port: number;
  before(async () => ({ t, port } = await listening('conn-client-errors', { BODY_IDLE_TIMEOUT_MS: '500', UNREAD_BODY_MAX_BYTES: '100000' })));
  after(async () => t.close());

  /** Sends `head` (and `body`) on a fresh connection and returns the answer, which must be a problem with `status`. */
  async function problemFor(head: string, status: number, body: Buffer | string = ''): Promise<{ detail: string; errors?: { pointer: string }[] }> {
    const conn = await RawConnection.open(port);
    try {
      const answer = await conn.request(head, body);
      assert.equal(answer.status, status, answer.body);
      assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
      const problem = JSON.parse(answer.body);
      assert.equal(problem.status, status);
      return problem;
    } finally {
      conn.close();
    }
  }

  it('a head over the size limit: 431', async () => {
    await problemFor(`GET /v1/datasets HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'x'.repeat(20_000)}\r\n`, 431);
  });

  it('a method Node does not know, and HTTP/9.9: 400', async () => {
    await problemFor('FOO /v1/jobs HTTP/1.1\r\nHost: localhost\r\n', 400);
    await problemFor('GET /health/live HTTP/9.9\r\nHost: localhost\r\n', 400);
  });

  it('HTTP/1.1 without Host: 400 naming the header', async () => {
    const problem = await problemFor('GET /health/live HTTP/1.1\r\nConnection: close\r\n', 400);
    assert.equal(problem.errors?.[0].pointer, '/headers/host');
  });

  it('CONNECT: 405', async () => {
    await problemFor(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: localhost\r\n`, 405);
  });

  it('a body shorter than its Content-Length: 408 once no byte came for BODY_IDLE_TIMEOUT_MS', async () => {
    const problem = await problemFor(post('/v1/jobs', 'application/json', 100), 408, '{"datasetId":');
    assert.match(problem.detail, /stopped arriving/);
  });

  it('JSON or CSV in a charset other than UTF-8: 415 naming Content-Type', async () => {
    const json = '{"datasetId":"x","tasks":[]}';
    const problem = await problemFor(post('/v1/jobs', 'application/json; charset=utf-16', json.length), 415, json);
    assert.equal(problem.errors?.[0].pointer, '/headers/content-type');
    await problemFor(post('/v1/datasets', 'text/csv; charset=binary', 8), 415, 'a,b\n1,2\n');
  });

  it('an unknown query parameter on upload: 400 naming it', async () => {
    const problem = await problemFor(post('/v1/datasets?name[]=a', 'text/csv', 8), 400, 'a,b\n1,2\n');
    assert.equal(problem.errors?.[0].pointer, '/querystring/name[]');
  });

  it('a body over the limit sent whole with Connection: close gets its 413', async () => {
    const body = JSON.stringify({ datasetId: 'x', tasks: [], name: 'x'.repeat(4 * 1024 * 1024) });
    for (let i = 0; i < 3; i++) {
      const problem = await problemFor(
        `POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`,
        413,
        body,
      );
      assert.match(problem.detail, /larger than the limit/);
    }
  });
});
