import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import type { StudyRecord } from '../queue/study-types.js';

/** Where studies are kept. One writer per study at a time (its driver; the API only creates it). */
export interface StudyStore {
  /** Writes the whole record; a reader sees the old one or the new one, never half of one. */
  save(record: StudyRecord): Promise<void>;
  /** NotFoundError when there is none. */
  get(id: string): Promise<StudyRecord>;
  /** Every study, newest first. */
  list(): Promise<StudyRecord[]>;
}

/** Studies on disk: `<dir>/<id>.json`, written to a temporary file and renamed into place. */
export class FileStudyStore implements StudyStore {
  constructor(private readonly dir: string) {}

  private path(id: string): string {
    if (!isValidId(id)) throw new NotFoundError('study', id);
    return join(this.dir, `${id}.json`);
  }

  async save(record: StudyRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const final = this.path(record.id);
    const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(id: string): Promise<StudyRecord> {
    try {
      return JSON.parse(await readFile(this.path(id), 'utf8')) as StudyRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('study', id);
      throw err;
    }
  }

  async list(): Promise<StudyRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter(isValidId);
    const records = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return records.filter((r): r is StudyRecord => r !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}
