import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

/**
 * A reply sent before its request body was read to the end (an upload refused at line 2, a body
 * over a limit, a refusal before parsing) would leave the rest of that body in the connection:
 * Node.js stops reading it, so the next request on that keep-alive socket is never parsed and the
 * client hangs until the keep-alive timeout. So the rest is read and thrown away, up to
 * `maxBytes`: a body known to be longer is answered with `Connection: close` instead (the socket
 * closes after the reply), and one that turns out longer while draining has its socket closed.
 */
async function unreadBody(app: FastifyInstance, opts: { maxBytes: number }) {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || raw.destroyed) return payload;
    const declared = Number(raw.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      reply.header('connection', 'close');
      raw.unpipe();
      return payload;
    }
    drain(raw, opts.maxBytes);
    return payload;
  });
}

/** Reads the rest of `raw` into nothing; past `maxBytes` the socket is closed. */
function drain(raw: IncomingMessage, maxBytes: number): void {
  raw.unpipe(); // whatever was parsing it gave up
  let drained = 0;
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxBytes) raw.socket?.destroy();
  });
  raw.resume();
}

export default fp(unreadBody, { name: 'unread-body' });
