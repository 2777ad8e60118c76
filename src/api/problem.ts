import type { FieldError } from '../mtl/spec-error.js';

/**
 * An error that becomes an `application/problem+json` response (RFC 9457): `type`, `title`,
 * `status`, `detail`, and for validation problems an `errors` list naming each bad field.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
}

export const PROBLEM_TYPES: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  409: 'conflict',
  413: 'payload-too-large',
  414: 'uri-too-long',
  415: 'unsupported-media-type',
  422: 'unprocessable-spec',
  429: 'too-many-requests',
  431: 'request-header-fields-too-large',
  500: 'internal-error',
  503: 'unavailable',
  507: 'insufficient-storage',
};

export function problemBody(status: number, title: string, detail: string, errors?: FieldError[]): ProblemBody {
  const body: ProblemBody = { type: `urn:mtl:problem:${PROBLEM_TYPES[status] ?? 'error'}`, title, status, detail };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}
