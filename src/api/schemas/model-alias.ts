import { Type } from '@sinclair/typebox';
import { ALIAS_PATTERN } from '../../store/model-aliases.js';

export const AliasParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, description: 'The model name (not an id or name@version).', examples: ['digits-mtl'] }),
  alias: Type.String({ pattern: ALIAS_PATTERN, description: 'Alias: a letter, then letters, digits, _ or - (so name@alias never reads as a version).', examples: ['prod'] }),
});

export const SetAliasBodySchema = Type.Object({ version: Type.Integer({ minimum: 1, description: 'The version of the name the alias will point at.' }) }, { additionalProperties: false });

export const AliasSchema = Type.Object({
  name: Type.String(),
  alias: Type.String(),
  version: Type.Integer({ description: 'name@alias means name@version.' }),
  modelId: Type.Union([Type.String(), Type.Null()], { description: 'The model that version is; null when it has been deleted since.' }),
});

export const AliasListSchema = Type.Object({ name: Type.String(), aliases: Type.Array(Type.Omit(AliasSchema, ['name'])) });
