import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface RedisLockArgs {
  /** A holder that died (or hangs) loses its hold after this long. Holds are meant to last milliseconds. */
  ttlMs: number;
  /** How long to wait for a hold before giving up (the caller's `busy()` error is thrown). */
  waitMs: number;
}

/**
 * Takes a hold on `KEYS[1]`, a sorted set of holders scored by when their hold expires (by Redis's
 * own clock; expired ones are dropped first). ARGV: mode (`s` shared, `x` exclusive), token, ttl of
 * a hold, ttl of a wait mark (ms). Shared holds go along with each other; an exclusive hold goes
 * along with nothing. An exclusive request that has to wait leaves a wait mark (`w:`) that keeps
 * new shared holds out, so a stream of them cannot starve it.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local mode, token = ARGV[1], ARGV[2]
local free = true
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local kind = string.sub(member, 1, 2)
  if kind == 'x:' or (mode == 'x' and kind == 's:') or (mode == 's' and kind == 'w:') then free = false end
end
local member, ttl = mode .. ':' .. token, tonumber(ARGV[3])
if not free then
  if mode ~= 'x' then return 0 end
  member, ttl = 'w:' .. token, tonumber(ARGV[4])
else
  redis.call('ZREM', KEYS[1], 'w:' .. token)
end
redis.call('ZADD', KEYS[1], now + ttl, member)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return free and 1 or 0
`;

/** How long a waiting exclusive request's mark lasts unless renewed by its next try. */
const WAIT_MARK_MS = 1000;

/**
 * A short read/write lock in Redis, one per key, shared by every process on that Redis (several API
 * processes, several machines): many holders in `shared` mode at once, or one in `exclusive` mode,
 * which new shared requests let go first once it waits.
 * It makes a check and the write that depends on it one step, e.g. "the dataset exists → queue a
 * job on it" (shared: jobs on one dataset do not wait for each other) against "no job uses the
 * dataset → delete it" (exclusive).
 */
export class RedisLock {
  constructor(private readonly connection: Redis, private readonly args: RedisLockArgs) {}

  /** Runs `fn` while holding `key` shared; `busy()` is thrown when the hold is not had within `waitMs`. */
  shared<T>(key: string, fn: () => Promise<T>, busy: () => Error): Promise<T> {
    return this.hold('s', key, fn, busy);
  }

  /** Runs `fn` while holding `key` alone; `busy()` is thrown when the hold is not had within `waitMs`. */
  exclusive<T>(key: string, fn: () => Promise<T>, busy: () => Error): Promise<T> {
    return this.hold('x', key, fn, busy);
  }

  private async hold<T>(mode: 's' | 'x', key: string, fn: () => Promise<T>, busy: () => Error): Promise<T> {
    const token = randomUUID();
    const deadline = Date.now() + this.args.waitMs;
    for (let delay = 5; (await this.connection.eval(ACQUIRE, 1, key, mode, token, this.args.ttlMs, WAIT_MARK_MS)) !== 1; delay = Math.min(delay * 2, 100)) {
      if (Date.now() >= deadline) {
        await this.connection.zrem(key, `w:${token}`).catch(() => undefined);
        throw busy();
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
    try {
      return await fn();
    } finally {
      // When Redis is away the hold simply expires.
      await this.connection.zrem(key, `${mode}:${token}`).catch(() => undefined);
    }
  }
}
