import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem, problemBody, type ProblemBody } from '../problem.js';
import { SpecError, type FieldError } from '../../mtl/spec-error.js';
import { DatasetFormatError, PayloadTooLargeError } from '../../store/store-errors.js';
import { ModelArchiveError } from '../../store/model-archive.js';
import { NotFoundError } from '../../shared/not-found-error.js';
import { FeatureValueError } from '../../mtl/preprocessing.js';
import { shorten } from '../../mtl/values.js';
import { noteOutcome, requestFields } from '../request-log.js';
import { DatasetBusyError, IdempotencyKeyReusedError, JobStateConflictError } from '../../queue/queue-errors.js';

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Turns every error into application/problem+json; 4xx for what the caller can fix, 5xx detail only in the log. */
async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = boundProblem(toProblem(error, request.routeOptions.bodyLimit));
    // Logged once, when the request completes (request-log.ts): the error itself when it was not a deliberate refusal.
    noteOutcome(request, { detail: problem.detail, err: problem.status >= 500 && !(error instanceof HttpProblem) ? error : undefined });
    if (error instanceof HttpProblem) for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
    if (problem.status === 503 && isRedisDown(error)) reply.header('retry-after', String(RETRY_AFTER_S));
    if (error instanceof DatasetBusyError) reply.header('retry-after', '1');
    return sendProblem(reply, problem);
  });

  app.setNotFoundHandler((request, reply) => {
    const problem = boundProblem(problemBody(404, 'Not Found', `no route for ${request.method} ${request.url.split('?')[0]}`));
    noteOutcome(request, { detail: problem.detail });
    return sendProblem(reply, problem);
  });
}

/** Seconds a client is asked to wait (Retry-After) when Redis is away or the server is shutting down. */
export const RETRY_AFTER_S = 5;

/**
 * Errors the router meets before any route or hook runs (Fastify's `frameworkErrors`): a path
 * parameter over `maxParamLength` (414), a URL that does not percent-decode (400). As problems,
 * with the request id, never echoing the URL.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  reply.header('x-request-id', request.id);
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is longer than allowed (ids and model names are at most 100 characters)'
      : error.code === 'FST_ERR_BAD_URL'
        ? 'the path is not a valid URL: it has a malformed percent-encoding'
        : error.message;
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  // (The router's errors never reach the request log's completion hook: their one line is written here.)
  if (status >= 500) request.log.error({ req: requestFields(request), res: { statusCode: status }, err: error }, 'request failed');
  else request.log.info({ req: requestFields(request), res: { statusCode: status }, detail }, 'request refused');
  return sendProblem(reply, problemBody(status, status >= 500 ? 'Internal Server Error' : titleFor(status), status >= 500 ? 'an unexpected error occurred; it has been logged' : detail, status >= 500 ? undefined : [{ pointer: '/url', detail }]));
}

/** Sends a problem, its texts bounded (see boundProblem). */
export function sendProblem(reply: FastifyReply, body: ProblemBody) {
  return reply.code(body.status).type('application/problem+json').send(boundProblem(body));
}

const MAX_DETAIL_CHARS = 1000;
const MAX_FIELD_ERRORS = 50;

/**
 * A problem small whatever the request held: `detail` at most 1000 characters, at most 50 field
 * errors (the last one says how many more there were), each pointer and detail at most 200. Values
 * are already cut where messages quote them (describeValue); this is the net under every message,
 * such as a pointer through a megabyte-long key.
 */
export function boundProblem(body: ProblemBody): ProblemBody {
  const bounded: ProblemBody = { ...body, detail: shorten(body.detail, MAX_DETAIL_CHARS) };
  if (body.errors) {
    const errors = body.errors.slice(0, MAX_FIELD_ERRORS).map((e) => ({ pointer: shorten(e.pointer), detail: shorten(e.detail) }));
    if (body.errors.length > MAX_FIELD_ERRORS) errors[MAX_FIELD_ERRORS - 1] = { pointer: errors[MAX_FIELD_ERRORS - 1].pointer, detail: `${errors[MAX_FIELD_ERRORS - 1].detail} (and ${body.errors.length - MAX_FIELD_ERRORS} more errors)` };
    bounded.errors = errors;
  }
  return bounded;
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
  if (error instanceof DatasetBusyError) return problemBody(503, 'Service Unavailable', error.message);
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
  const storage = storageProblem(error);
  if (storage) return storage;
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
  const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type' };
  return titles[status] ?? 'Request Error';
}

/**
 * The file system refusing the store (read-only, no permission: 503; disk or quota full: 507): not
 * the caller's fault and not a bug either. The answer names the error code, never a path; the log
 * has the whole error.
 */
function storageProblem(error: Error): ProblemBody | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return problemBody(503, 'Service Unavailable', `the data store cannot be written (${code}); the data directory must be writable by the API`);
  if (code === 'ENOSPC' || code === 'EDQUOT') return problemBody(507, 'Insufficient Storage', `the data store is full (${code})`);
  return undefined;
}

function isRedisDown(error: Error): boolean {
  return /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|ETIMEDOUT/i.test(error.message);
}

export default fp(errorHandler, { name: 'error-handler' });
