import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { GroupWriter, ObjectBody, ObjectInfo, ObjectStore, StoreProbe } from './object-store.js';

/**
 * The `file://` backend: a key is a path under a directory (DATA_DIR by default), the layout the
 * service always had (`datasets/<id>/rows.ndjson`, `models/<id>/model.json`, …). Replacing an
 * object writes a temporary sibling and renames it over the old one; a group is a directory filled
 * under a temporary name and renamed into place; an exclusive create is O_CREAT|O_EXCL.
 */
export class FileObjectStore implements ObjectStore {
  readonly url: string;

  constructor(private readonly dir: string) {
    this.url = pathToFileURL(resolve(dir)).href;
  }

  at(prefix: string): ObjectStore {
    return new FileObjectStore(this.path(prefix));
  }

  private path(key: string): string {
    if (key === '') return this.dir;
    for (const part of key.split('/')) if (part === '' || part === '.' || part === '..') throw new Error(`invalid store key '${key}'`);
    return join(this.dir, key);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    const input = createReadStream(this.path(key));
    try {
      await new Promise<void>((resolve, reject) => input.once('open', () => resolve()).once('error', reject));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    return input;
  }

  async put(key: string, body: ObjectBody): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      await writeSynced(tmp, body);
      await rename(tmp, path);
    } catch (err) {
      // A full disk must not leave a half-written copy: the last good object stays.
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async createExclusive(key: string, body: string): Promise<boolean> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(path, body, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return { size: s.size, stamp: `${s.ino}:${s.mtimeMs}:${s.size}` };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    try {
      return await readdir(this.path(prefix));
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async publish<T>(prefix: string, manifest: string, fill: (writer: GroupWriter) => Promise<{ value: T; manifest: string | Buffer }>): Promise<T> {
    const finalDir = this.path(prefix);
    const parent = dirname(finalDir);
    await mkdir(parent, { recursive: true });
    const tmp = await mkdtemp(join(parent, '.tmp-'));
    try {
      const writer: GroupWriter = { put: (name, body) => writeSynced(join(tmp, name), body, false) };
      const result = await fill(writer);
      await writeFile(join(tmp, manifest), result.manifest);
      await rename(tmp, finalDir);
      return result.value;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async unpublish(prefix: string, _manifest: string): Promise<boolean> {
    const dir = this.path(prefix);
    const doomed = join(dirname(dir), `.deleted-${randomUUID()}`);
    try {
      await rename(dir, doomed);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  /**
   * A probe file is written and removed in each directory (an access() check says yes to root on a
   * read-only mount, and nothing about a full disk). The detail names the directories under
   * DATA_DIR that failed and why, never an absolute path.
   */
  async probe(prefixes: readonly string[]): Promise<StoreProbe> {
    const failed: string[] = [];
    for (const name of prefixes) {
      const dir = this.path(name);
      const probe = join(dir, `.ready-${process.pid}-${randomUUID()}`);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(probe, '');
        await rm(probe, { force: true });
      } catch (err) {
        failed.push(`${name} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    return failed.length === 0 ? { ok: true } : { ok: false, detail: `not writable under DATA_DIR: ${failed.join(', ')}` };
  }

  async verify(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new Error(`STORE_URL ${this.url}: cannot create the directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  async close(): Promise<void> {}
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Writes `body` to `path` (a stream chunk by chunk), then fsyncs unless told not to. */
async function writeSynced(path: string, body: ObjectBody, sync = true): Promise<void> {
  if (body instanceof Readable) {
    await pipeline(body, createWriteStream(path));
    if (!sync) return;
  }
  const file = await open(path, body instanceof Readable ? 'r+' : 'w');
  try {
    if (!(body instanceof Readable)) await file.write(typeof body === 'string' ? Buffer.from(body) : body);
    if (sync) await file.sync();
  } finally {
    await file.close();
  }
}
