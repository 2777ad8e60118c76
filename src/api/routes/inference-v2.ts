import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { FeatureValueError } from '../../mtl/preprocessing.js';
import { NotFoundError } from '../../shared/not-found-error.js';
import { PayloadTooLargeError } from '../../store/store-errors.js';
import { isValidAlias } from '../../store/model-aliases.js';
import type { ModelMetadata } from '../../store/model-metadata.js';
import { encodeInputs, outputTensors, outputWidth, readInputs, requestedOutputs, TensorError, unknownOutput } from '../oip-tensors.js';
import { HttpProblem } from '../problem.js';
import { OPENAPI_INFO } from '../plugins/swagger.js';
import { serveForward } from '../serve-predictions.js';
import type { LoadedModel } from '../model-cache.js';
import {
  V2ErrorSchema,
  V2InferRequestSchema,
  V2InferResponseSchema,
  V2LiveSchema,
  V2ModelMetadataSchema,
  V2ModelParamsSchema,
  V2ModelReadySchema,
  V2ReadySchema,
  V2ServerMetadataSchema,
  V2VersionParamsSchema,
} from '../schemas/inference-v2.js';
import { serializePredictResponse } from '../schemas/model.js';

const TAGS = ['inference (v2)'];
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, V2ErrorSchema]));

/**
 * The Open Inference Protocol (v2, the KServe / Triton / Seldon data plane) over the same model
 * cache, versions, aliases, micro-batching and limits as /v1: server and model health and metadata,
 * and `infer` with one input tensor per feature and one output tensor per task. Errors are the
 * protocol's `{"error": "…"}` (this plugin's own error handler), not problem+json.
 */
const inferenceV2Routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, models, modelCache, objects } = app.services;
  app.setErrorHandler(v2ErrorHandler);

  app.get('/v2/health/live', { schema: { tags: TAGS, summary: 'Server live', response: { 200: V2LiveSchema } } }, async function v2Live() {
    return { live: true };
  });

  app.get(
    '/v2/health/ready',
    { schema: { tags: TAGS, summary: 'Server ready: the model store is reachable (models load on first use)', response: { 200: V2ReadySchema, 503: V2ReadySchema } } },
    async function v2Ready(_request, reply) {
      const ready = await objects.verify().then(() => true, () => false);
      return reply.code(ready ? 200 : 503).send({ live: true, ready });
    },
  );

  const serverMetadata = { schema: { tags: TAGS, summary: 'Server metadata', response: { 200: V2ServerMetadataSchema } } };
  const server = async () => ({ name: 'mtl-service', version: OPENAPI_INFO.version, extensions: [] });
  app.get('/v2', serverMetadata, async function v2ServerMetadata() {
    return server();
  });
  app.get('/v2/', { ...serverMetadata, schema: { ...serverMetadata.schema, hide: true } }, async function v2ServerMetadataSlash() {
    return server();
  });

  /** A model's metadata in the protocol's terms: its features as inputs, its tasks as outputs. */
  const modelMetadata = async (ref: string) => {
    const m = await modelCache.metadataOf(ref);
    const versions = (await models.list({ name: m.name })).map((v) => v.version).filter((v): v is number => v !== undefined);
    return describe(m, versions);
  };

  for (const versioned of [false, true]) {
    const base = versioned ? '/v2/models/:name/versions/:version' : '/v2/models/:name';
    const params = versioned ? V2VersionParamsSchema : V2ModelParamsSchema;
    const which = versioned ? ' (a version number or an alias)' : ' (its latest version; or name@version, name@alias)';

    app.get(base, { schema: { tags: TAGS, summary: `Model metadata${which}`, params, response: { 200: V2ModelMetadataSchema, ...errors(400, 404) } } }, async function v2ModelMetadata(request) {
      return modelMetadata(refOf(request.params));
    });

    app.get(
      `${base}/ready`,
      { schema: { tags: TAGS, summary: `Model ready${which}: loads the model if it is not loaded yet`, params, response: { 200: V2ModelReadySchema, ...errors(400, 404) } } },
      async function v2ModelReady(request) {
        const model = await modelCache.resolve(refOf(request.params));
        return { name: model.metadata.name, ready: true };
      },
    );

    app.post(
      `${base}/infer`,
      {
        bodyLimit: config.PREDICT_MAX_BODY_BYTES,
        schema: {
          tags: TAGS,
          summary: `Inference${which}`,
          description:
            'One input tensor per feature, named after it ([N] or [N, 1]); one output tensor per task (or per task in `outputs`), named after it. ' +
            `Answers are the same numbers as POST /v1/models/{ref}/predict; requests share forward passes with each other as on /v1. At most ${config.PREDICT_MAX_ROWS} rows and ${config.PREDICT_MAX_BODY_BYTES} bytes (413 beyond).`,
          params,
          body: V2InferRequestSchema(config.PREDICT_MAX_ROWS),
          response: { 200: V2InferResponseSchema, ...errors(400, 404, 413) },
        },
        serializerCompiler: () => serializePredictResponse,
      },
      async function v2Infer(request) {
        if (request.headers['inference-header-content-length'] !== undefined) throw new TensorError('the binary tensor data extension is not supported: send JSON tensors');
        const body = request.body;
        const columns = readInputs(body.inputs);
        if (columns.rows > config.PREDICT_MAX_ROWS) throw new TensorError(`at most ${config.PREDICT_MAX_ROWS} rows per request, got ${columns.rows}; send them in several requests`, 413);
        const tasks = requestedOutputs(body.outputs);
        const { model, tasks: heads, outputs } = await serveForward(modelCache, refOf(request.params), (prep) => encodeInputs(prep, columns), columns.rows, { tasks, unknownTask });
        const { id, name, version, preprocessing } = model.metadata;
        app.metrics.predictRows.inc({ model: id }, columns.rows);
        return {
          model_name: name,
          ...(version !== undefined ? { model_version: String(version) } : {}),
          ...(body.id !== undefined ? { id: body.id } : {}),
          parameters: { model_id: id },
          outputs: outputTensors(preprocessing, heads, outputs, columns.rows),
        };
      },
    );
  }
};

const unknownTask = (task: string, _index: number, model: LoadedModel) => unknownOutput(task, model.metadata.preprocessing);

/** `name` or `name` + `/versions/<version>` as a model reference (the version: a number or an alias). */
function refOf(params: { name: string; version?: string }): string {
  if (params.version === undefined) return params.name;
  if (!/^[1-9][0-9]{0,8}$/.test(params.version) && !isValidAlias(params.version)) throw new TensorError(`version '${params.version}' is neither a version number nor an alias`);
  return `${params.name}@${params.version}`;
}

function describe(m: ModelMetadata, versions: number[]) {
  const prep = m.preprocessing;
  return {
    name: m.name,
    versions: versions.sort((a, b) => a - b).map(String),
    platform: 'tensorflowjs_layers',
    inputs: prep.features.map((f) => ({ name: f.name, datatype: f.type === 'numeric' ? 'FP32' : 'BYTES', shape: [-1], parameters: { feature_type: f.type } })),
    outputs: prep.tasks.map((t) => ({
      name: t.task,
      datatype: 'FP32',
      shape: [-1, outputWidth(t)],
      parameters: { task_type: t.type, ...('labels' in t ? { labels: JSON.stringify(t.labels) } : {}) },
    })),
  };
}

interface AjvError {
  instancePath: string;
  message?: string;
}

/** The protocol's error object, `{"error": "…"}`, with the status the same error has on /v1; 5xx detail only in the log. */
function v2ErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { status, message } = v2Error(error, request.routeOptions.bodyLimit);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ status, detail: message }, 'request refused');
  if (error instanceof HttpProblem) for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
  return reply.code(status).type('application/json').send({ error: message });
}

function v2Error(error: FastifyError, bodyLimit: number | undefined): { status: number; message: string } {
  if (error instanceof TensorError) return { status: error.status, message: error.message };
  if (error instanceof HttpProblem) return { status: error.status, message: error.detail };
  if (error.validation) {
    const where = error.validationContext ?? 'body';
    return { status: 400, message: `the request ${where} is not valid: ${(error.validation as AjvError[]).map((v) => `${v.instancePath || '/'} ${v.message ?? ''}`.trim()).join('; ')}` };
  }
  if (error instanceof NotFoundError) return { status: 404, message: error.message };
  if (error instanceof FeatureValueError) return { status: 400, message: `input '${error.feature}' element ${error.row}: ${error.message}` };
  if (error instanceof PayloadTooLargeError) return { status: 413, message: error.message };
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: bodyLimit ? `the request body is larger than the limit of ${bodyLimit} bytes` : error.message };
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, message: error.message };
  return { status: 500, message: 'an unexpected error occurred; it has been logged' };
}

export default inferenceV2Routes;
