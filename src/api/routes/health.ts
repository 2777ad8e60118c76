import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

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
    { schema: { tags: ['health'], summary: 'Redis answers and the data directories (datasets, models) can be written', response: { 200: ReadySchema, 503: ReadySchema } } },
    async function ready(_request, reply) {
      const redis = (await app.services.trainingQueue.ping()) ? { ok: true } : { ok: false, detail: 'Redis does not answer' };
      const store = await storeCheck(app.services.config.DATA_DIR);
      const ready = redis.ok && store.ok;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', backend: app.services.backend, ...(app.services.backendAdapter ? { adapter: app.services.backendAdapter } : {}), checks: { redis, store } });
    },
  );
};

/** The directories the API writes (uploads, model deletes): each must take a file, not just exist. */
const WRITTEN_DIRS = ['datasets', 'models'] as const;

/**
 * Whether the API can write where it must: a probe file is written and removed in each directory
 * (an access() check says yes to root on a read-only mount, and nothing about a full disk). The
 * detail names the directories under DATA_DIR that failed and why, never an absolute path.
 */
async function storeCheck(dataDir: string): Promise<{ ok: boolean; detail?: string }> {
  const failed: string[] = [];
  for (const name of WRITTEN_DIRS) {
    const dir = join(dataDir, name);
    const probe = join(dir, `.ready-${process.pid}-${randomUUID()}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (err) {
      failed.push(`${name} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return failed.length === 0 ? { ok: true } : { ok: false, detail: `not writable under DATA_DIR: ${failed.join(', ')}` };
}

export default healthRoutes;
