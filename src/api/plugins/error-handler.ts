import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { HttpProblem, problemBody, type ProblemBody } from '../problem.js';
import { SpecError, type FieldError } from '../../mtl/spec-error.js';
import { DatasetFormatError, PayloadTooLargeError } from '../../store/store-errors.js';
import { ModelArchiveError } from '../../store/model-archive.js';
import { NotFoundError } from '../../shared/not-found-error.js';
import { FeatureValueError } from '../../mtl/preprocessing.js';
import { IdempotencyKeyReusedError, JobStateConflictError } from '../../queue/queue-errors.js';

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Turns every error into application/problem+json; 4xx for what the caller can fix, 5xx detail only in the log. */
async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request.routeOptions.bodyLimit);
    if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ status: problem.status, detail: problem.detail }, 'request refused');
    }
    if (error instanceof HttpProblem) for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
    return sendProblem(reply, problem);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problemBody(404, 'Not Found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

export function sendProblem(reply: FastifyReply, body: ProblemBody) {
  return reply.code(body.status).type('application/problem+json').send(body);
}

function toProblem(error: FastifyError, bodyLimit: number | undefined): ProblemBody {
  if (error instanceof HttpProblem) return problemBody(error.status, error.title, error.detail, error.errors);
  if (error.validation) {
    const where = error.validationContext ?? 'body';
    const errors = (error.validation as AjvError[]).map((v) => fieldError(where, v));
    return problemBody(400, 'Invalid request', `the request ${where} is not valid: ${errors.map((e) => `${e.pointer} ${e.detail}`).join('; ')}`, errors);
  }
  if (error instanceof SpecError) return problemBody(422, 'Spec cannot be trained', error.message, error.errors);
  if (error instanceof NotFoundError) return problemBody(404, 'Not Found', error.message);
  if (error instanceof JobStateConflictError) return problemBody(409, 'Conflict', error.message);
  if (error instanceof IdempotencyKeyReusedError)
    return problemBody(422, 'Idempotency-Key reused', error.message, [{ pointer: '/headers/idempotency-key', detail: 'already used with a different body' }]);
  if (error instanceof DatasetFormatError) return problemBody(400, 'Malformed dataset', error.message, [{ pointer: '/body', detail: error.message }]);
  if (error instanceof PayloadTooLargeError) return problemBody(413, 'Payload Too Large', error.message);
  if (error instanceof ModelArchiveError) return problemBody(400, 'Invalid model archive', error.message, [{ pointer: '/body', detail: error.message }]);
  if (error instanceof FeatureValueError)
    return problemBody(400, 'Invalid instance', error.message, [{ pointer: `/instances/${error.row}/${escapePointer(error.feature)}`, detail: error.message }]);
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const detail = bodyLimit ? `the request body is larger than the limit of ${bodyLimit} bytes` : error.message;
    return problemBody(413, 'Payload Too Large', detail, [{ pointer: '/body', detail }]);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const detail = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? `${error.message}; see /docs for the accepted types` : error.message;
    const pointer = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? '/headers/content-type' : '/body';
    const errors = error.code?.startsWith('FST_ERR_CTP') ? [{ pointer, detail: error.message }] : undefined;
    return problemBody(status, titleFor(status), detail, errors);
  }
  if (isRedisDown(error)) return problemBody(503, 'Service Unavailable', 'the job queue (Redis) is not reachable; try again shortly');
  return problemBody(500, 'Internal Server Error', 'an unexpected error occurred; it has been logged');
}

function fieldError(where: string, v: AjvError): FieldError {
  let pointer = v.instancePath;
  if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') pointer += `/${escapePointer(v.params.missingProperty)}`;
  if (v.keyword === 'additionalProperties' && typeof v.params.additionalProperty === 'string') {
    pointer += `/${escapePointer(v.params.additionalProperty)}`;
    return { pointer: prefix(where, pointer), detail: 'is not a known field' };
  }
  return { pointer: prefix(where, pointer), detail: v.message ?? v.keyword };
}

function prefix(where: string, pointer: string): string {
  return where === 'body' ? pointer || '/' : `/${where}${pointer}`;
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function titleFor(status: number): string {
  const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 413: 'Payload Too Large', 415: 'Unsupported Media Type' };
  return titles[status] ?? 'Request Error';
}

function isRedisDown(error: Error): boolean {
  return /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|ETIMEDOUT/i.test(error.message);
}

export default fp(errorHandler, { name: 'error-handler' });
