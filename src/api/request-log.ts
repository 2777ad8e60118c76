import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { redactUrl } from '../logger.js';

/** What went wrong with a request, as the error handler saw it: the detail sent, and the error when it was unexpected. */
export interface RequestOutcome {
  detail: string;
  err?: Error;
}

const outcomes = new WeakMap<FastifyRequest, RequestOutcome>();

/** Called by the error handler: the request's one log line will carry this. */
export function noteOutcome(request: FastifyRequest, outcome: RequestOutcome): void {
  outcomes.set(request, outcome);
}

/** The request part of a log line: method, URL (secret-looking query values redacted), host, client address. */
export function requestFields(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: redactUrl(request.url), hostname: request.hostname, ip: request.ip, id: request.id };
}

/**
 * One log line per request, at the level its outcome deserves, instead of Fastify's two info lines
 * (incoming, completed) for every request (a loaded API wrote 457 MB of them in two minutes):
 *
 * - a failure (5xx): `error` with the error when it was unexpected, `warn` when the API chose to
 *   refuse (load shedding, shutting down);
 * - a refusal (4xx): `info`, with the detail sent;
 * - a success slower than `slowMs` (0: never): `info`, "slow request" (live event streams excepted);
 * - any other success: `debug`.
 *
 * Each line has the request id (`reqId`), the request, the status and the response time.
 */
export class RequestLog extends LogController {
  constructor(private readonly slowMs: number) {
    super();
  }

  override incomingRequest(): void {}

  override routeNotFound(): void {} // the not-found handler answers; the request's line says 404

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const responseTime = Math.round(reply.elapsedTime * 10) / 10;
    const outcome = outcomes.get(request);
    const line = { req: requestFields(request), res: { statusCode: status }, responseTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (status >= 500 && outcome?.err) reply.log.error({ ...line, err: outcome.err }, 'request failed');
    else if (status >= 500) reply.log.warn({ ...line, detail: outcome?.detail }, 'request failed');
    else if (status >= 400) reply.log.info({ ...line, detail: outcome?.detail }, 'request refused');
    else if (this.slowMs > 0 && responseTime >= this.slowMs && !isEventStream(reply)) reply.log.info(line, 'slow request');
    else reply.log.debug(line, 'request completed');
  }
}

function isEventStream(reply: FastifyReply): boolean {
  return String(reply.getHeader('content-type') ?? reply.raw.getHeader('content-type') ?? '').startsWith('text/event-stream');
}
