import { Type, type Static, type TLiteral, type TObject, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FieldError } from './spec-error.js';

/**
 * Parts of the spec that come in variants chosen by one field (an architecture by `type`, a loss
 * weighting by `strategy`). Each variant is one TypeBox object: the discriminator literal and its
 * own fields, each with its `default`. Those schemas are the single place of the defaults: the
 * resolved types are their `Static`, resolution fills them in, and the wire schema and its
 * descriptions are derived from them.
 */
export type VariantSchema<K extends string, V extends string, P extends TProperties> = TObject<{ [k in K]: TLiteral<V> } & P>;

export function variantSchema<K extends string, V extends string, P extends TProperties>(key: K, value: V, fields: P, description: string): VariantSchema<K, V, P> {
  return Type.Object({ [key]: Type.Literal(value), ...fields } as { [k in K]: TLiteral<V> } & P, { additionalProperties: false, description });
}

/** The resolved value of a variant: every field present. */
export type VariantOf<S extends TSchema> = Static<S>;

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type ValueOfUnion<T, F extends PropertyKey> = T extends unknown ? (F extends keyof T ? T[F] : never) : never;
/** What a request may send for a variant field whose resolved values are `R`: any variant's fields, optional except `Required`. */
export type VariantInput<R, Required extends PropertyKey = never> = { [F in KeysOfUnion<R>]?: ValueOfUnion<R, F> } & { [F in Required & KeysOfUnion<R>]: ValueOfUnion<R, F> };

function discriminatorOf(schema: TObject, key: string): string {
  return (schema.properties[key] as TLiteral<string>).const;
}

/**
 * The request body's schema for a variant field: one object with the discriminator (an enum of the
 * variants) and every variant's fields, all optional and without defaults (the body is never filled
 * in by the validator); each field's description says which variants take it, their defaults and
 * ranges. The wire schema checks types only: which fields apply to the chosen variant and whether
 * their values are in its range are checked by resolveVariant (a 422 naming the field, as for every
 * spec that is well-formed but cannot be trained), so a field two variants share with different
 * ranges is held to the chosen variant's.
 */
export function variantsWireSchema<R, Required extends PropertyKey = never>(key: string, variants: TObject[], options: { description: string; optionalKey?: boolean }): TUnsafe<VariantInput<R, Required>> {
  const properties: Record<string, TSchema> = {};
  // field → "what it is (default …)" → the variants that take it so
  const notes: Record<string, Map<string, string[]>> = {};
  for (const variant of variants) {
    const name = discriminatorOf(variant, key);
    for (const [field, schema] of Object.entries(variant.properties)) {
      if (field === key) continue;
      const { default: fallback, description, ...rest } = schema as TSchema & { default?: unknown; description?: string };
      properties[field] ??= withoutBounds(rest as TSchema);
      const bounds = boundsOf(rest as TSchema);
      const note = `${description ?? field} (default ${JSON.stringify(fallback)}${bounds ? `; ${bounds}` : ''}).`;
      const byNote = (notes[field] ??= new Map());
      byNote.set(note, [...(byNote.get(note) ?? []), name]);
    }
  }
  const choice = Type.Union(variants.map((v) => Type.Literal(discriminatorOf(v, key))), { description: options.description });
  const fields = Object.fromEntries(Object.entries(properties).map(([field, schema]) => [field, Type.Optional({ ...schema, description: describe(notes[field]) })]));
  return Type.Unsafe<VariantInput<R, Required>>(Type.Object({ [key]: options.optionalKey ? Type.Optional(choice) : choice, ...fields }, { additionalProperties: false }));
}

/**
 * The chosen variant with its defaults filled in, or null with an error for each field that does
 * not apply to it or breaks its schema (pointers under `at`).
 */
export function resolveVariant<T>(variants: TObject[], key: string, given: Record<string, unknown>, at: string, errors: FieldError[]): T | null {
  const name = given[key];
  const variant = variants.find((v) => discriminatorOf(v, key) === name);
  if (!variant) {
    errors.push({ pointer: `${at}/${key}`, detail: `unknown ${key} '${String(name)}'; one of ${variants.map((v) => discriminatorOf(v, key)).join(', ')}` });
    return null;
  }
  const fields = Object.keys(variant.properties).filter((f) => f !== key);
  const before = errors.length;
  for (const field of Object.keys(given)) {
    if (field !== key && !fields.includes(field)) errors.push({ pointer: `${at}/${field}`, detail: `'${field}' does not apply to ${describeChoice(key, String(name))}; it takes ${fields.join(', ') || 'no other field'}` });
  }
  if (errors.length > before) return null;
  const present = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const resolved = Value.Default(variant, present) as Record<string, unknown>;
  for (const e of Value.Errors(variant, resolved)) errors.push({ pointer: `${at}${e.path}`, detail: e.message });
  return errors.length > before ? null : (resolved as T);
}

const BOUNDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems'] as const;

/** `schema` without its numeric and length bounds, in lists too: the types stay on the wire, the ranges are the variant's to check. */
function withoutBounds(schema: TSchema): TSchema {
  const copy: Record<string, unknown> = { ...schema };
  for (const k of BOUNDS) delete copy[k];
  if (copy.items && typeof copy.items === 'object') copy.items = withoutBounds(copy.items as TSchema);
  if (Array.isArray(copy.anyOf)) copy.anyOf = (copy.anyOf as TSchema[]).map(withoutBounds);
  return copy as TSchema;
}

/** The bounds of a field (or of its list's items) in words, e.g. "minimum 0, maximum 1". */
function boundsOf(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  const own = BOUNDS.filter((k) => s[k] !== undefined).map((k) => `${k} ${JSON.stringify(s[k])}`);
  const items = s.items && typeof s.items === 'object' ? boundsOf(s.items as TSchema) : '';
  return [...own, ...(items ? [`each ${items}`] : [])].join(', ');
}

function describe(notes: Map<string, string[]>): string {
  return [...notes].map(([note, names]) => `${names.join(', ')}: ${note}`).join(' ');
}

function describeChoice(key: string, name: string): string {
  return key === 'strategy' ? `the ${name} strategy` : name;
}
