import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A reply sent before its request body was read to the end (an upload refused at line 2, a body
 * over a limit, a refusal before parsing) would leave the rest of that body in the connection:
 * Node.js stops reading it, so the next request on that keep-alive socket is never parsed and the
 * client hangs until the keep-alive timeout. So the rest is read and thrown away, up to
 * `maxBytes`: a body known to be longer is answered with `Connection: close` instead (the socket
 * closes after the reply), and one that turns out longer while draining has its socket closed.
 *
 * When the connection closes after such a reply (the client asked for `Connection: close`, or the
 * body is over `maxBytes`), closing the socket at once with unread bytes in it makes the kernel
 * send a TCP reset, and a client still sending its body loses the answer before reading it. So the
 * close lingers, as nginx's `lingering_close` does: the server ends its side after the answer and
 * goes on reading and discarding until the client ends its own, for at most LINGER_MS.
 */
async function unreadBody(app: FastifyInstance, opts: { maxBytes: number }) {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || raw.destroyed) return payload;
    const declared = Number(raw.headers['content-length']);
    lingerOnClose(raw);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      reply.header('connection', 'close');
      drain(raw, Infinity);
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

/** How long a closing connection goes on reading what its client still sends after the answer. */
export const LINGER_MS = 2000;

/** Makes Node's close after the reply (`socket.destroySoon`) a lingering close: end our side, read until the client ends its own or LINGER_MS passed, then destroy. */
function lingerOnClose(raw: IncomingMessage): void {
  const socket = raw.socket as (Socket & { destroySoon?: () => void }) | null;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('end', () => {
      clearTimeout(timer);
      this.destroy();
    });
    this.once('close', () => clearTimeout(timer));
    raw.resume();
    this.resume();
  };
}

export default fp(unreadBody, { name: 'unread-body' });
