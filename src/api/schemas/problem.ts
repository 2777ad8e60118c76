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

/** Response schemas for the given error statuses. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]));
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
export const IdParamsSchema = Type.Object({ id: Type.String({ description: 'Id (a UUID).', examples: ['00000000-0000-4000-8000-000000000000'] }) });
