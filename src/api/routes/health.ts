import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ObjectStore } from '../../store/object-store.js';

const CheckSchema = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  backend: Type.String({ description: 'TensorFlow.js backend that serves predictions in this process.' }),
  adapter: Type.Optional(Type.String({ description: 'The GPU that backend runs on (webgpu): vendor, architecture and description as WebGPU reports them.' })),
  checks: Type.Object({ redis: CheckSchema, store: CheckSchema }),
});

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async function live() {
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/health/ready',
    { schema: { tags: ['health'], summary: 'Redis answers and the store (datasets, models) takes writes', response: { 200: ReadySchema, 503: ReadySchema } } },
    async function ready(_request, reply) {
      const redis = (await app.services.trainingQueue.ping()) ? { ok: true } : { ok: false, detail: 'Redis does not answer' };
      const store = await storeCheck(app.services.objects);
      const ready = redis.ok && store.ok;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', backend: app.services.backend, ...(app.services.backendAdapter ? { adapter: app.services.backendAdapter } : {}), checks: { redis, store } });
    },
  );
};

/** Where the API writes (uploads, model deletes): each must take an object, not just exist. */
const WRITTEN_PREFIXES = ['datasets', 'models'] as const;

/**
 * Whether the API can write where it must (ObjectStore.probe: a probe object written and removed
 * under each prefix). The detail names what failed (the directories under DATA_DIR, or the S3
 * store), never an absolute path or a credential.
 */
async function storeCheck(objects: ObjectStore): Promise<{ ok: boolean; detail?: string }> {
  return objects.probe(WRITTEN_PREFIXES);
}

export default healthRoutes;
