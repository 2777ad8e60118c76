import { fileURLToPath } from 'node:url';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { RedisClaims } from './redis-claims.js';
import { S3ObjectStore } from './s3-object-store.js';

export interface ObjectStoreArgs {
  /** STORE_URL; unset: `dataDir` on this machine's disk. */
  url?: string;
  dataDir: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  /** Where backends without exclusive creates of their own claim keys (S3: version numbers). */
  redisUrl?: string;
}

/** The store backends by STORE_URL scheme: one line each. */
const BACKENDS: Record<string, (url: string, args: ObjectStoreArgs) => ObjectStore> = {
  'file:': (url) => new FileObjectStore(fileURLToPath(url)),
  's3:': (url, args) =>
    S3ObjectStore.fromUrl(url, { endpoint: args.s3Endpoint, forcePathStyle: args.s3ForcePathStyle, claims: args.redisUrl ? new RedisClaims(args.redisUrl) : undefined }),
};

/** The object store STORE_URL names (by its scheme), or DATA_DIR on disk when it is unset. */
export function openObjectStore(args: ObjectStoreArgs): ObjectStore {
  if (args.url === undefined || args.url === '') return new FileObjectStore(args.dataDir);
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(args.url)?.[0].toLowerCase();
  const open = scheme === undefined ? undefined : BACKENDS[scheme];
  if (open === undefined) throw new Error(`STORE_URL ${args.url}: unknown scheme (one of ${Object.keys(BACKENDS).map((s) => `${s}//`).join(', ')})`);
  return open(args.url, args);
}
