import { isValidId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import type { StudyRecord } from '../queue/study-types.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';

/** Where studies are kept. One writer per study at a time (its driver; the API only creates it). */
export interface StudyStore {
  /** Writes the whole record; a reader sees the old one or the new one, never half of one. */
  save(record: StudyRecord): Promise<void>;
  /** NotFoundError when there is none. */
  get(id: string): Promise<StudyRecord>;
  /** Every study, newest first. */
  list(): Promise<StudyRecord[]>;
}

/**
 * Studies in the object store: `<id>.json`, replaced whole on each save (ObjectStore.put: on disk
 * a temporary file renamed into place, in S3 one put), so a driver on any machine resumes a study
 * and any API replica reads it. A string is a directory on disk (the `file://` backend).
 */
export class ObjectStudyStore implements StudyStore {
  private readonly store: ObjectStore;

  constructor(dirOrStore: string | ObjectStore) {
    this.store = typeof dirOrStore === 'string' ? new FileObjectStore(dirOrStore) : dirOrStore;
  }

  private key(id: string): string {
    if (!isValidId(id)) throw new NotFoundError('study', id);
    return `${id}.json`;
  }

  async save(record: StudyRecord): Promise<void> {
    await this.store.put(this.key(record.id), JSON.stringify(record));
  }

  async get(id: string): Promise<StudyRecord> {
    const bytes = await this.store.get(this.key(id));
    if (bytes === undefined) throw new NotFoundError('study', id);
    return JSON.parse(bytes.toString('utf8')) as StudyRecord;
  }

  async list(): Promise<StudyRecord[]> {
    const ids = (await this.store.list()).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter(isValidId);
    const records = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return records.filter((r): r is StudyRecord => r !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}
