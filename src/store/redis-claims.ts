import { Redis } from 'ioredis';
import type { ExclusiveClaims } from './s3-object-store.js';

/**
 * Exclusive claims in Redis (SET key NX): one caller of many, on any machine, is granted a key.
 * The S3 backend claims version numbers here when the server does not enforce conditional puts.
 * Claims are never released (a version number is never reused), so a lost race costs nothing.
 */
export class RedisClaims implements ExclusiveClaims {
  private readonly redis: Redis;

  constructor(url: string, private readonly keyPrefix = 'mtl:store-claim:') {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  }

  async claim(key: string): Promise<boolean> {
    return (await this.redis.set(`${this.keyPrefix}${key}`, String(Date.now()), 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
