import { access, constants, mkdir } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const CheckSchema = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  backend: Type.String({ description: 'TensorFlow.js backend that serves predictions in this process.' }),
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
    { schema: { tags: ['health'], summary: 'Redis and the store are reachable', response: { 200: ReadySchema, 503: ReadySchema } } },
    async function ready(_request, reply) {
      const redis = (await app.services.trainingQueue.ping()) ? { ok: true } : { ok: false, detail: 'Redis does not answer' };
      const store = await storeCheck(app.services.config.DATA_DIR);
      const ready = redis.ok && store.ok;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', backend: app.services.backend, checks: { redis, store } });
    },
  );
};

async function storeCheck(dir: string): Promise<{ ok: boolean; detail?: string }> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.R_OK | constants.W_OK);
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: `data directory is not writable: ${(err as Error).message}` };
  }
}

export default healthRoutes;
