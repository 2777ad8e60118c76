import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisLock } from '../../src/queue/redis-lock.js';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { testRedis, uniquePrefix } from '../helpers/redis.js';

let redis: RedisEndpoint;
let connection: Redis;
let second: Redis;
const prefix = uniquePrefix('lock');
before(async () => {
  redis = await testRedis();
  connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  second = connection.duplicate();
});
after(async () => {
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
  second.disconnect();
  await redis.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = () => new Error('busy');

describe('RedisLock (shared / exclusive, across connections)', () => {
  it('shared holds go along; an exclusive hold waits for them, and they for it', async () => {
    const lock = new RedisLock(connection, { ttlMs: 10_000, waitMs: 5_000 });
    const other = new RedisLock(second, { ttlMs: 10_000, waitMs: 5_000 });
    const key = `${prefix}:a`;
    const events: string[] = [];
    const hold = (name: string, ms: number) => async () => {
      events.push(`${name}+`);
      await sleep(ms);
      events.push(`${name}-`);
    };
    // x asks once both shared holds are in (not after a fixed delay: on a busy machine the second
    // connection's first hold can take longer), s3 a moment after x.
    const bothIn = async () => {
      while (!(events.includes('s1+') && events.includes('s2+'))) await sleep(5);
    };
    await Promise.all([
      lock.shared(key, hold('s1', 150), busy),
      other.shared(key, hold('s2', 150), busy),
      bothIn().then(() => Promise.all([other.exclusive(key, hold('x', 100), busy), sleep(30).then(() => lock.shared(key, hold('s3', 10), busy))])),
    ]);
    // s1 and s2 overlap; x starts after both ended and ends before s3 starts.
    assert.deepEqual(events.slice(0, 2).sort(), ['s1+', 's2+']);
    const x = events.indexOf('x+');
    assert.ok(x > events.indexOf('s1-') && x > events.indexOf('s2-'), events.join(' '));
    assert.equal(events[x + 1], 'x-', events.join(' '));
    assert.deepEqual(events.slice(-2), ['s3+', 's3-']);
  });

  it('gives up with the busy error after waitMs; a holder that never let go is freed by its TTL', async () => {
    const key = `${prefix}:b`;
    const dead = new RedisLock(connection, { ttlMs: 400, waitMs: 1000 });
    // A process that took the hold and died: the hold is never released.
    void dead.exclusive(key, () => new Promise(() => undefined), busy);
    await sleep(50);
    const impatient = new RedisLock(connection, { ttlMs: 10_000, waitMs: 100 });
    await assert.rejects(impatient.shared(key, async () => 'no', busy), /busy/);
    const patient = new RedisLock(connection, { ttlMs: 10_000, waitMs: 2000 });
    assert.equal(await patient.shared(key, async () => 'yes', busy), 'yes');
  });

  it('lets go when the holder throws', async () => {
    const lock = new RedisLock(connection, { ttlMs: 10_000, waitMs: 200 });
    const key = `${prefix}:c`;
    await assert.rejects(lock.exclusive(key, async () => { throw new Error('boom'); }, busy), /boom/);
    assert.equal(await lock.exclusive(key, async () => 1, busy), 1);
  });
});
