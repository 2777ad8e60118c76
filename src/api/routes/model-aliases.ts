import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { parseModelRef } from '../model-ref.js';
import { HttpProblem } from '../problem.js';
import { AliasListSchema, AliasParamsSchema, AliasSchema, SetAliasBodySchema } from '../schemas/model-alias.js';
import { ModelRefParamsSchema } from '../schemas/model.js';
import { problems } from '../schemas/problem.js';

/**
 * Aliases: movable names for versions (`digits-mtl@prod`), usable wherever `name@version` is
 * (predict, model metadata, archive export, the /v2 protocol). A move is atomic in the store and
 * seen at once by this process's model cache (other API processes see it within
 * MODEL_CACHE_RECHECK_MS).
 */
const modelAliasRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { models, modelCache } = app.services;

  /** The name an alias route is about: a plain name, not an id or name@version. */
  const nameOf = (ref: string): string => {
    const parsed = parseModelRef(ref);
    if (!('name' in parsed) || parsed.version !== undefined || parsed.alias !== undefined)
      throw new HttpProblem(400, 'Invalid request', `aliases belong to a model name; use the name, not '${ref}'`, [{ pointer: '/params/id', detail: 'must be a model name' }]);
    return parsed.name;
  };

  app.get(
    '/v1/models/:id/aliases',
    {
      schema: {
        tags: ['models'],
        summary: 'The aliases of a model name (the model may be named by id, name, name@version or name@alias)',
        params: ModelRefParamsSchema,
        response: { 200: AliasListSchema, ...problems(404) },
      },
    },
    async function listAliases(request) {
      const { name } = await modelCache.metadataOf(request.params.id);
      const aliases = await models.aliasesOf(name);
      return { name, aliases: await Promise.all(aliases.map(async (a) => ({ ...a, modelId: await models.resolve(name, a.version).catch(() => null) }))) };
    },
  );

  app.put(
    '/v1/models/:id/aliases/:alias',
    {
      schema: {
        tags: ['models'],
        summary: 'Point an alias at a version of the name (creates or moves it, atomically)',
        description: 'After this, name@alias means name@version in every route. 404 when that version is not stored.',
        params: AliasParamsSchema,
        body: SetAliasBodySchema,
        response: { 200: AliasSchema, ...problems(400, 404) },
      },
    },
    async function setAlias(request) {
      const name = nameOf(request.params.id);
      const { alias } = request.params;
      const { version } = request.body;
      const modelId = await models.setAlias(name, alias, version);
      modelCache.changed({ name });
      request.log.info({ name, alias, version, modelId }, 'alias set');
      return { name, alias, version, modelId };
    },
  );

  app.delete(
    '/v1/models/:id/aliases/:alias',
    { schema: { tags: ['models'], summary: 'Remove an alias', params: AliasParamsSchema, response: { 204: Type.Null(), ...problems(400, 404) } } },
    async function deleteAlias(request, reply) {
      const name = nameOf(request.params.id);
      await models.deleteAlias(name, request.params.alias);
      modelCache.changed({ name });
      return reply.code(204).send(null);
    },
  );
};

export default modelAliasRoutes;
