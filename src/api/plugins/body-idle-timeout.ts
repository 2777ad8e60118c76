import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { PassThrough } from 'node:stream';
import { HttpProblem } from '../problem.js';

/**
 * A request body that stops arriving (a client that sent fewer bytes than its Content-Length, or
 * stalled mid-upload) is answered 408 problem+json after `idleMs` without a byte, instead of
 * holding the request open until the whole-request timeout. The timer restarts with every chunk, so
 * a slow but steady upload is never cut.
 */
async function bodyIdleTimeout(app: FastifyInstance, opts: { idleMs: number }) {
  if (opts.idleMs <= 0) return;
  app.addHook('preParsing', async (request, reply, payload) => {
    if (request.raw.complete) return payload;
    const out = new PassThrough();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        payload.unpipe(out);
        out.destroy(new HttpProblem(408, 'Request Timeout', `the request body stopped arriving: no byte for ${opts.idleMs} ms`, [{ pointer: '/body', detail: 'incomplete' }], { connection: 'close' }));
      }, opts.idleMs);
    };
    const stop = () => clearTimeout(timer);
    payload.on('data', arm);
    payload.on('end', stop);
    out.on('close', stop);
    // Once answered (a refusal before the body was read: its rest is drained by unread-body.ts), the body no longer matters.
    reply.raw.on('finish', stop);
    reply.raw.on('close', stop);
    // Whoever reads the body listens for its errors; one that nobody reads any more must not throw.
    out.on('error', () => undefined);
    payload.pipe(out);
    arm();
    return out;
  });
}

export default fp(bodyIdleTimeout, { name: 'body-idle-timeout' });
