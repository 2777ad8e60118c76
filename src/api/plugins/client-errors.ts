import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpProblem, problemBody } from '../problem.js';

/**
 * Requests Node.js refuses before Fastify sees them are answered as problems too (RFC 9457), not
 * with Fastify's default `{"error": …}` JSON or an empty body:
 * - `clientErrorHandler` (a Fastify server option, see buildApp): head over the size limit → 431,
 *   anything not HTTP/1.x (a method Node does not know, `HTTP/9.9`, a header without a colon,
 *   a bad Content-Length) → 400, the request timeout → 408;
 * - CONNECT (Node.js closes the socket of a CONNECT without a `connect` listener) → 405;
 * - HTTP/1.1 without `Host` → 400 naming the header (Node.js's own answer has no body; the server
 *   is created with `requireHostHeader: false` so the request reaches this hook).
 */
async function clientErrors(app: FastifyInstance) {
  app.server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endWithProblem(socket, 405, 'CONNECT is not supported: this is an HTTP API, not a proxy', { allow: 'GET, HEAD, POST, PUT, DELETE' });
  });
  app.addHook('onRequest', async (request) => {
    const raw = request.raw;
    if (raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1 && !raw.headers.host) {
      throw new HttpProblem(400, 'Bad Request', 'an HTTP/1.1 request must carry a Host header', [{ pointer: '/headers/host', detail: 'is required in HTTP/1.1' }]);
    }
  });
}

/** Fastify's `clientErrorHandler`: the problem for an error of Node's HTTP parser, on the raw socket. */
export function clientErrorHandler(err: { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    endWithProblem(socket, 431, 'the request line and headers are larger than the server accepts (16 KB); send less in the URL and headers');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    endWithProblem(socket, 408, 'the request did not arrive in time');
  } else {
    endWithProblem(socket, 400, `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}); check the method, the request line, the headers and Content-Length`);
  }
}

function endWithProblem(socket: Duplex, status: number, detail: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(problemBody(status, STATUS_CODES[status] ?? 'Error', detail));
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

export default fp(clientErrors, { name: 'client-errors', dependencies: ['error-handler'] });
