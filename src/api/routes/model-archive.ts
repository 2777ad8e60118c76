import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { packModelArchive } from '../../store/model-archive.js';
import { importModelArchive } from '../model-import.js';
import { withAliases } from '../model-aliases-view.js';
import { HttpProblem } from '../problem.js';
import { ModelRefParamsSchema, ModelSchema } from '../schemas/model.js';
import { problems } from '../schemas/problem.js';

const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

/**
 * Export and import: a model as one .tar.gz (model.json, weights.bin, metadata.json, as stored;
 * unpacked, tf.loadLayersModel reads the folder), and such an archive uploaded as a new model.
 */
const modelArchiveRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, models, modelCache } = app.services;
  const limit = config.MODEL_ARCHIVE_MAX_BYTES;
  // (Only this plugin's routes: the archive is read whole, at most MODEL_ARCHIVE_MAX_BYTES.)
  app.addContentTypeParser(ARCHIVE_TYPES, { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));

  app.get(
    '/v1/models/:id/archive',
    {
      schema: {
        tags: ['models'],
        summary: 'Export a model as one .tar.gz (model.json, weights.bin, metadata.json)',
        description: 'The model may be named by id, name, name@version or name@alias. Unpacked, the folder loads with tf.loadLayersModel; POST /v1/models imports the archive.',
        params: ModelRefParamsSchema,
        response: {
          200: { description: 'A gzipped ustar archive', content: { 'application/gzip': { schema: { type: 'string', format: 'binary' } } } },
          ...problems(404),
        },
      },
    },
    async function exportModel(request, reply) {
      const metadata = await modelCache.metadataOf(request.params.id);
      const archive = await packModelArchive(await models.files(metadata.id), new Date(metadata.createdAt));
      const file = `${metadata.name.replace(/[^A-Za-z0-9_.-]/g, '_')}${metadata.version ? `-v${metadata.version}` : ''}.tar.gz`;
      return reply.type('application/gzip').header('content-disposition', `attachment; filename="${file}"`).send(archive);
    },
  );

  app.post(
    '/v1/models',
    {
      bodyLimit: limit,
      schema: {
        tags: ['models'],
        summary: 'Import a model archive (from GET /v1/models/{ref}/archive) as a new model',
        description:
          `The body is the .tar.gz (application/gzip), at most ${limit} bytes packed and unpacked. The model gets a new id and the next version of its name; ` +
          'it predicts exactly as where it was exported. A corrupt, truncated, oversized or hostile archive (paths outside the archive, links, other files, a gzip bomb) is refused with a 4xx and nothing is stored.',
        body: { content: { 'application/gzip': { schema: { description: 'The model archive (.tar.gz), as GET /v1/models/{ref}/archive makes it.' } } } },
        response: { 201: ModelSchema, ...problems(400, 413, 415) },
      },
    },
    async function importModel(request, reply) {
      if (!Buffer.isBuffer(request.body)) {
        throw new HttpProblem(415, 'Unsupported Media Type', 'send the model archive as application/gzip', [{ pointer: '/headers/content-type', detail: 'must be application/gzip' }]);
      }
      const saved = await importModelArchive(models, request.body, limit);
      modelCache.changed({ id: saved.id, name: saved.name });
      request.log.info({ modelId: saved.id, name: saved.name, version: saved.version, from: saved.importedFrom }, 'model imported');
      const [model] = await withAliases(models, [saved]);
      return reply.code(201).header('location', `/v1/models/${saved.id}`).send(model);
    },
  );
};

export default modelArchiveRoutes;
