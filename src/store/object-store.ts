import type { Readable } from 'node:stream';

/** What `head` tells of a stored object. */
export interface ObjectInfo {
  size: number;
  /** Changes whenever the object is replaced or removed and put again (caches compare it). */
  stamp: string;
}

/** A body to store: bytes, text, or a stream (streamed through, never gathered whole in memory). */
export type ObjectBody = Buffer | Uint8Array | string | Readable;

/** Writes the objects of a group that `publish` makes visible at once. */
export interface GroupWriter {
  put(name: string, body: ObjectBody): Promise<void>;
}

/** The result of a readiness probe: `detail` says what failed, never a secret or an absolute path. */
export interface StoreProbe {
  ok: boolean;
  detail?: string;
}

/**
 * Where everything durable lives (datasets, models, checkpoints, version and alias claims): a flat
 * space of keys (`/`-separated) holding bytes. One backend per file behind this interface, chosen
 * by STORE_URL's scheme in object-stores.ts: `file://` (a directory, DATA_DIR by default) and
 * `s3://bucket/prefix` (S3 and S3-compatible servers).
 *
 * Guarantees every backend gives:
 * - `put` replaces an object whole: a reader gets the old bytes or the new ones, never a mix.
 * - `publish` writes a group of objects under a fresh prefix and makes it visible last, through its
 *   manifest object (file: the directory is renamed into place; S3: the data objects first, then
 *   the manifest). Readers look for the manifest first, so they never see a half-written group.
 * - `createExclusive` creates an object only when it does not exist, granted to one caller of
 *   many across machines (file: O_CREAT|O_EXCL; S3: a claim in Redis, or If-None-Match: *).
 */
export interface ObjectStore {
  /** Where this is, for messages: `file:///abs/dir` or `s3://bucket/prefix` (never credentials). */
  readonly url: string;
  /** A view of the keys under `prefix` (`at('models').get('x')` reads `models/x`). */
  at(prefix: string): ObjectStore;
  /** The object's bytes; undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** The object as a stream; undefined when there is none. */
  read(key: string): Promise<Readable | undefined>;
  put(key: string, body: ObjectBody): Promise<void>;
  /** Creates the object when no object has that key: true when this call created it. */
  createExclusive(key: string, body: string): Promise<boolean>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** The names directly under `prefix` (objects and sub-prefixes alike, as readdir lists a directory). */
  list(prefix?: string): Promise<string[]>;
  /** Removes an object; no error when there is none. */
  delete(key: string): Promise<void>;
  /**
   * Writes a group of objects under `prefix` (which must not exist yet) and publishes it: `fill`
   * puts the data objects and returns the manifest's bytes, which are written last under
   * `manifest`. On failure, what was written is removed and nothing is visible.
   */
  publish<T>(prefix: string, manifest: string, fill: (writer: GroupWriter) => Promise<{ value: T; manifest: string | Buffer }>): Promise<T>;
  /**
   * Removes a published group: invisible at once to readers (manifest first / renamed away), then
   * its objects. False when there was no such group.
   */
  unpublish(prefix: string, manifest: string): Promise<boolean>;
  /** Whether the store takes writes under each of `prefixes` (a probe object written and removed). */
  probe(prefixes: readonly string[]): Promise<StoreProbe>;
  /** Fails with an error naming STORE_URL when the store cannot be used (missing bucket, refused credentials). */
  verify(): Promise<void>;
  close(): Promise<void>;
}
