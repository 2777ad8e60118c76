import { Type } from '@sinclair/typebox';

/**
 * The Open Inference Protocol (v2) REST payloads, after the protocol's own schemas
 * (kserve/open-inference-protocol, specification/protocol/open_inference_rest.yaml and
 * inference_rest.md), with this service's descriptions. Request bodies are checked loosely here
 * (tensor data is walked once by the route, which names the bad element); responses follow the
 * protocol exactly (the tests validate them against its published schemas).
 */

const Parameters = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
  description: 'Name → string, number or boolean. None are needed; unknown ones are ignored.',
});

export const V2ErrorSchema = Type.Object({ error: Type.String({ description: 'What went wrong.' }) }, { description: 'The protocol\'s error object (not problem+json).' });

export const V2LiveSchema = Type.Object({ live: Type.Boolean() });
export const V2ReadySchema = Type.Object({ live: Type.Boolean(), ready: Type.Boolean({ description: 'The model store is reachable, so every stored model can be loaded and served.' }) });
export const V2ModelReadySchema = Type.Object({ name: Type.String(), ready: Type.Boolean() });

export const V2ServerMetadataSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});

const MetadataTensorSchema = Type.Object({
  name: Type.String(),
  datatype: Type.String(),
  shape: Type.Array(Type.Integer(), { description: '-1: any number of rows.' }),
  parameters: Type.Optional(Parameters),
});

export const V2ModelMetadataSchema = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String(), { description: 'The stored versions of the name (request one with /versions/{version}; an alias works too).' }),
  platform: Type.String({ description: 'tensorflowjs_layers' }),
  inputs: Type.Array(MetadataTensorSchema, {
    description: 'One per feature, named after it: FP32 [-1] for numeric features (FP64, INT*, UINT* and BOOL are accepted too), BYTES [-1] (strings) for categorical ones.',
  }),
  outputs: Type.Array(MetadataTensorSchema, {
    description:
      'One per task, named after it: FP32 [-1, L] probabilities for classification, binary and multilabel tasks (parameters.labels: the JSON array of the L labels in column order; binary: [negative, positive]), FP32 [-1, 1] values for regression.',
  }),
});

export const V2ModelParamsSchema = Type.Object({ name: Type.String({ minLength: 1, description: 'Model name (or id, name@version, name@alias).', examples: ['digits-mtl'] }) });
export const V2VersionParamsSchema = Type.Object({
  name: Type.String({ minLength: 1, description: 'Model name.', examples: ['digits-mtl'] }),
  version: Type.String({ minLength: 1, description: 'A version number or an alias of the name.', examples: ['1'] }),
});

export const V2InferRequestSchema = (maxRows: number) =>
  Type.Object({
    id: Type.Optional(Type.String({ description: 'Echoed in the response.' })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(
      Type.Object({
        name: Type.String({ description: 'A feature name.' }),
        shape: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 2, description: `[N] or [N, 1]; N rows (at most ${maxRows}), the same for every input.` }),
        datatype: Type.String({ description: 'FP32, FP64, FP16, INT8–64, UINT8–64 or BOOL for numeric features; BYTES for categorical ones.' }),
        parameters: Type.Optional(Parameters),
        data: Type.Array(Type.Unknown(), { description: 'N values, flat or as [[v], …] for shape [N, 1]; null is a missing value.' }),
      }),
      { minItems: 1 },
    ),
    outputs: Type.Optional(
      Type.Array(Type.Object({ name: Type.String({ description: 'A task name.' }), parameters: Type.Optional(Parameters) }), {
        description: 'The tasks to return (default: every task); heads not asked for are not computed.',
      }),
    ),
  });

export const V2InferResponseSchema = Type.Object({
  model_name: Type.String(),
  model_version: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer()),
      datatype: Type.String(),
      parameters: Type.Optional(Parameters),
      data: Type.Array(Type.Number(), { description: 'Row-major, flat.' }),
    }),
  ),
});
