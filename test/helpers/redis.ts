import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TRAINING_QUEUE } from '../../src/queue/job-types.js';
import { LOCAL_REDIS_URL, pingRedis, startRedisServer, type RedisEndpoint } from '../../src/queue/local-redis.js';

/**
 * The Redis tests use: REDIS_URL when set, else one answering on 127.0.0.1:6379, else a private
 * redis-server started for this test file (own port and temp dir, both gone after `stop()`).
 * The temp dir is made only when a private server is started, so no empty folder is left behind.
 */
export async function testRedis(): Promise<RedisEndpoint> {
  const none = async () => undefined;
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, source: 'REDIS_URL', stop: none };
  if (await pingRedis('127.0.0.1', 6379)) return { url: LOCAL_REDIS_URL, source: 'local', stop: none };
  const dir = mkdtempSync(join(tmpdir(), 'mtl-redis-'));
  try {
    const started = await startRedisServer({ dir, persist: false });
    return {
      ...started,
      stop: async () => {
        await started.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A queue prefix no other test file or run shares. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key under `prefix:` (queues, their meta keys, idempotency keys, locks...), over its own connection. */
export async function deletePrefixKeys(redisUrl: string, prefix: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await connection.del(...keys);
    } while (cursor !== '0');
  } finally {
    connection.disconnect();
  }
  return deleted;
}

/** Deletes the training queue under `prefix` and all its jobs, then every other key under the prefix. */
export async function obliterateTrainingQueue(redisUrl: string, prefix: string): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue(TRAINING_QUEUE, { connection, prefix });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    connection.disconnect();
  }
  await deletePrefixKeys(redisUrl, prefix);
}
