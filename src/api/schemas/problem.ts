import { Type, type TSchema } from '@sinclair/typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URN naming the kind of problem.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.String({ description: 'JSON pointer to the bad field (of the body unless it starts with /querystring, /params or /headers).' }),
          detail: Type.String(),
        }),
      ),
    ),
  },
  { description: 'application/problem+json (RFC 9457)' },
);

/** The response of one error status: a problem body, declared under its own media type. */
export interface ProblemResponse {
  description: string;
  content: { 'application/problem+json': { schema: typeof ProblemSchema } };
}

/**
 * Response schemas for the given error statuses, as `application/problem+json` (what the error
 * handler sends). Fastify picks a response serializer by media type, so these bodies are
 * serialized against ProblemSchema too.
 */
export function problems(...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: STATUS_TEXT[s] ?? 'Error', content: { 'application/problem+json': { schema: ProblemSchema } } }]),
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: the problem names each bad field',
  401: 'No or unknown API key',
  403: 'The key\'s role may not do this',
  404: 'Not found',
  406: 'Not acceptable',
  409: 'Conflict with the current state',
  410: 'Gone',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Unprocessable: the problem names each bad field',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Unavailable (Redis down, overloaded or shutting down); see Retry-After',
  507: 'Insufficient storage',
};

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
export const IdParamsSchema = Type.Object({ id: Type.String({ description: 'Id (a UUID).', examples: ['00000000-0000-4000-8000-000000000000'] }) });
