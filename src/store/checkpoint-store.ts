import { Readable } from 'node:stream';
import { isValidId } from '../shared/ids.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * Training checkpoints, one object per job (`<jobId>.ckpt`), replaced whole (on disk: temp file,
 * fsync, then rename; in S3: one put), so a job resumes from its last good checkpoint on any
 * machine. The object is a JSON header followed by the raw bytes of every Float32Array in the
 * value, which the header refers to as {"$f32": [offset, length]}. A string is a directory on disk.
 */
export class CheckpointStore {
  private readonly store: ObjectStore;

  constructor(dirOrStore: string | ObjectStore) {
    this.store = typeof dirOrStore === 'string' ? new FileObjectStore(dirOrStore) : dirOrStore;
  }

  private key(jobId: string): string {
    if (!isValidId(jobId)) throw new Error(`invalid job id '${jobId}'`);
    return `${jobId}.ckpt`;
  }

  async save(jobId: string, value: unknown): Promise<void> {
    const arrays: Float32Array[] = [];
    let offset = 0;
    const header = JSON.stringify(value, (_key, v) => {
      if (v instanceof Float32Array) {
        arrays.push(v);
        const ref = { $f32: [offset, v.length] };
        offset += v.byteLength;
        return ref;
      }
      return v;
    });
    const head = Buffer.from(header);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(head.length);
    // Streamed piece by piece: the weights are not copied into one more buffer.
    const pieces = [size, head, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))];
    await this.store.put(this.key(jobId), Readable.from(pieces, { objectMode: false }));
  }

  async load<T>(jobId: string): Promise<T | null> {
    const bytes = await this.store.get(this.key(jobId));
    if (bytes === undefined) return null;
    const headLength = bytes.readUInt32LE(0);
    const body = 4 + headLength;
    return JSON.parse(bytes.subarray(4, body).toString('utf8'), (_key, v) => {
      if (v && typeof v === 'object' && Array.isArray(v.$f32)) {
        const [offset, length] = v.$f32 as [number, number];
        const copy = new Float32Array(length);
        new Uint8Array(copy.buffer).set(bytes.subarray(body + offset, body + offset + length * 4));
        return copy;
      }
      return v;
    }) as T;
  }

  async delete(jobId: string): Promise<void> {
    await this.store.delete(this.key(jobId));
  }
}
