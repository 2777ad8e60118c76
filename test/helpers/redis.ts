import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
