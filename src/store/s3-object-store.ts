import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { GroupWriter, ObjectBody, ObjectInfo, ObjectStore, StoreProbe } from './object-store.js';

/** Grants each key to one claimant across every process (Redis SET NX, see redis-claims.ts). */
export interface ExclusiveClaims {
  claim(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface S3ObjectStoreArgs {
  /** S3_ENDPOINT: another S3-compatible server (MinIO, GCS's XML API, a local one); unset: AWS. */
  endpoint?: string;
  /** S3_FORCE_PATH_STYLE: `endpoint/bucket/key` rather than `bucket.endpoint/key` (MinIO, GCS). */
  forcePathStyle?: boolean;
  /** Unset: the SDK's chain (AWS_REGION, the profile). */
  region?: string;
  /** Unset: the SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, IAM roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Exclusive creates (version claims) through these claims; unset: a conditional put
   * (If-None-Match: *), which AWS S3 and MinIO enforce and some servers (s3rver) ignore.
   */
  claims?: ExclusiveClaims;
  /** Bytes of each part of a streamed (multipart) upload; two parts at most are in memory. */
  partSize?: number;
}

/** One client per endpoint and bucket, shared by the views `at()` makes. */
interface Shared {
  client: S3Client;
  bucket: string;
  args: S3ObjectStoreArgs;
}

/**
 * The `s3://bucket/prefix` backend (AWS S3, MinIO, GCS through its S3 interface, any S3-compatible
 * server) on the AWS SDK: a key is an object under the prefix. Streams go up as multipart uploads
 * (`@aws-sdk/lib-storage`, a few parts in memory at a time) and come down as streams. A group is
 * published by putting its data objects first and its manifest last; it is unpublished by deleting
 * the manifest first.
 */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;

  private constructor(private readonly shared: Shared, private readonly prefix: string) {
    this.url = `s3://${shared.bucket}${prefix === '' ? '' : `/${prefix}`}`;
  }

  /** `url` is `s3://bucket` or `s3://bucket/some/prefix`. */
  static fromUrl(url: string, args: S3ObjectStoreArgs = {}): S3ObjectStore {
    const parsed = new URL(url);
    if (parsed.protocol !== 's3:' || parsed.hostname === '') throw new Error(`STORE_URL ${url}: expected s3://bucket/prefix`);
    const config: S3ClientConfig = {
      forcePathStyle: args.forcePathStyle,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
      ...(args.endpoint ? { endpoint: args.endpoint } : {}),
      ...(args.region ? { region: args.region } : {}),
      ...(args.credentials ? { credentials: args.credentials } : {}),
    };
    const client = new S3Client(config);
    return new S3ObjectStore({ client, bucket: parsed.hostname, args }, trimSlashes(decodeURIComponent(parsed.pathname)));
  }

  at(prefix: string): ObjectStore {
    return new S3ObjectStore(this.shared, this.key(prefix));
  }

  private get client(): S3Client {
    return this.shared.client;
  }

  private get bucket(): string {
    return this.shared.bucket;
  }

  private key(key: string): string {
    if (key === '') return this.prefix;
    for (const part of key.split('/')) if (part === '' || part === '.' || part === '..') throw new Error(`invalid store key '${key}'`);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const body = await this.read(key);
    if (body === undefined) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async read(key: string): Promise<Readable | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, body: ObjectBody): Promise<void> {
    if (body instanceof Readable) {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: this.key(key), Body: body },
        partSize: this.shared.args.partSize ?? 8 * 1024 * 1024,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done();
    } else {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: typeof body === 'string' ? Buffer.from(body) : body }));
    }
  }

  async createExclusive(key: string, body: string): Promise<boolean> {
    const claims = this.shared.args.claims;
    if (claims) {
      if (!(await claims.claim(`${this.bucket}/${this.key(key)}`))) return false;
      if ((await this.head(key)) !== undefined) return false; // claimed before Redis last lost its data
      await this.put(key, body);
      return true;
    }
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: Buffer.from(body), IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      const size = out.ContentLength ?? 0;
      return { size, stamp: `${out.ETag ?? ''}:${out.LastModified?.getTime() ?? 0}:${size}` };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const base = this.key(prefix);
    const full = base === '' ? '' : `${base}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: '/', ContinuationToken: token }));
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(full.length, -1));
      for (const o of out.Contents ?? []) if (o.Key && o.Key.length > full.length) names.push(o.Key.slice(full.length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  async publish<T>(prefix: string, manifest: string, fill: (writer: GroupWriter) => Promise<{ value: T; manifest: string | Buffer }>): Promise<T> {
    const group = this.at(prefix);
    const written = new Set<string>();
    try {
      const writer: GroupWriter = {
        put: async (name, body) => {
          written.add(name);
          await group.put(name, body);
        },
      };
      const result = await fill(writer);
      await group.put(manifest, result.manifest); // last: the group exists from here on
      return result.value;
    } catch (err) {
      await Promise.all([...written].map((name) => group.delete(name).catch(() => undefined)));
      throw err;
    }
  }

  async unpublish(prefix: string, manifest: string): Promise<boolean> {
    const group = this.at(prefix);
    if ((await group.head(manifest)) === undefined) return false;
    await group.delete(manifest); // first: the group is gone for every reader from here on
    const rest = await this.keysUnder(this.key(prefix));
    await Promise.all(rest.map((key) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))));
    return true;
  }

  private async keysUnder(base: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${base}/`, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async probe(prefixes: readonly string[]): Promise<StoreProbe> {
    const key = `${prefixes[0] ?? '.ready'}/.ready-${process.pid}-${randomUUID()}`;
    try {
      await this.put(key, '');
      await this.delete(key);
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: `store ${this.url} does not take writes (${describeError(err)})` };
    }
  }

  async verify(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why =
        status === 404
          ? `bucket '${this.bucket}' does not exist`
          : status === 403 || status === 400 || status === 401
            ? `access to bucket '${this.bucket}' refused (HTTP ${status}): check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the profile or role) and the region`
            : `cannot reach the S3 endpoint (${describeError(err)})`;
      throw new Error(`STORE_URL ${this.url}: ${why}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.shared.args.claims?.close();
  }
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function describeError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  return e.code ?? e.name ?? e.message ?? 'error';
}
