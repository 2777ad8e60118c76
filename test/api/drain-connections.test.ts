import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createTestApp } from '../helpers/test-app.js';
import { drainConnections } from '../../src/api/drain-connections.js';

/** A keep-alive HTTP/1.1 connection that sends one request at a time and reads the whole answer (or how it ended). */
class KeepAliveConnection {
  private readonly socket: Socket;
  private buffer = '';
  private ended: string | undefined;
  private wake: () => void = () => undefined;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => ((this.buffer += d), this.wake()));
    this.socket.on('end', () => ((this.ended ??= 'closed by the server'), this.wake()));
    this.socket.on('error', (err: NodeJS.ErrnoException) => ((this.ended = err.code ?? err.message), this.wake()));
  }

  async get(path: string): Promise<{ status: number; connection: string } | { cutOff: string }> {
    this.buffer = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
    const deadline = Date.now() + 5000;
    for (;;) {
      const head = this.buffer.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(this.buffer)?.[1]);
      if (head >= 0 && this.buffer.length >= head + 4 + length) {
        return { status: Number(this.buffer.slice(9, 12)), connection: /\r\nconnection: ([^\r]*)/i.exec(this.buffer)?.[1] ?? '' };
      }
      if (this.ended || Date.now() > deadline) return { cutOff: this.ended ?? 'no answer in 5 s' };
      await new Promise<void>((r) => ((this.wake = r), setTimeout(r, 50)));
    }
  }

  close() {
    this.socket.destroy();
  }
}

describe('drainConnections (the API shutdown)', () => {
  it('answers a request sent into an idle keep-alive connection after the shutdown began, then lets the client go', async () => {
    const t = await createTestApp('drain');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as { port: number }).port;
    const clients = Array.from({ length: 4 }, () => new KeepAliveConnection(port));
    for (const c of clients) assert.deepEqual(await c.get('/health/live'), { status: 200, connection: 'keep-alive' });
    // SIGTERM: the drain starts, then the app closes (as src/server.ts does). The clients are idle.
    const shutdown = drainConnections(t.app.server, Number(process.env.TEST_DRAIN_MS ?? 3000)).then(() => t.close());
    await new Promise((r) => setTimeout(r, 100));
    const answers = await Promise.all(clients.map((c) => c.get('/health/live')));
    assert.deepEqual(answers, clients.map(() => ({ status: 200, connection: 'close' })), 'each request sent before the client knew is answered, and the connection then closed');
    const refused = await new Promise<string>((resolve) => connect({ host: '127.0.0.1', port }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('accepted')));
    assert.equal(refused, 'ECONNREFUSED', 'new connections are refused from the start of the drain');
    await shutdown;
    for (const c of clients) c.close();
  });
});
