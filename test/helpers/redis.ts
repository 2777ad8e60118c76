import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TRAINING_QUEUE } from '../../src/queue/job-types.js';
import { resolveRedis, type RedisEndpoint } from '../../src/queue/local-redis.js';

/**
 * The Redis tests use: REDIS_URL when set, else one answering on 127.0.0.1:6379, else a private
 * redis-server started for this test file (own port and temp dir, stopped by `stop()`).
 */
export async function testRedis(): Promise<RedisEndpoint> {
  return resolveRedis({ redisUrl: process.env.REDIS_URL, dir: mkdtempSync(join(tmpdir(), 'mtl-redis-')), persist: false });
}

/** A queue prefix no other test file or run shares. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes the training queue under `prefix` and all its jobs, over its own connection (the app's may be closed). */
export async function obliterateTrainingQueue(redisUrl: string, prefix: string): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue(TRAINING_QUEUE, { connection, prefix });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
