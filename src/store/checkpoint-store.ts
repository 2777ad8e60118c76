import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId } from '../shared/ids.js';

/**
 * Training checkpoints, one file per job (`<dir>/<jobId>.ckpt`), replaced atomically (temp file,
 * then rename). The file is a JSON header followed by the raw bytes of every Float32Array in the
 * value, which the header refers to as {"$f32": [offset, length]}.
 */
export class CheckpointStore {
  constructor(private readonly dir: string) {}

  private path(jobId: string): string {
    if (!isValidId(jobId)) throw new Error(`invalid job id '${jobId}'`);
    return join(this.dir, `${jobId}.ckpt`);
  }

  async save(jobId: string, value: unknown): Promise<void> {
    await mkdir(this.dir, { recursive: true });
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
    const tmp = `${this.path(jobId)}.tmp-${process.pid}`;
    try {
      const file = await open(tmp, 'w');
      try {
        await file.write(size);
        await file.write(head);
        for (const a of arrays) await file.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path(jobId));
    } catch (err) {
      // A full disk must not keep a half-written copy of the weights: the last good checkpoint stays.
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async load<T>(jobId: string): Promise<T | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(jobId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
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
    await rm(this.path(jobId), { force: true });
  }
}
