import { createHash } from 'node:crypto';
import type { ObjectStore } from './object-store.js';

/**
 * Version numbers of the models saved under one name: 1, 2, 3, … in the order they were saved.
 *
 * A version is claimed by creating the object `<hash of name>/<version>` (holding the model id)
 * exclusively (ObjectStore.createExclusive: O_CREAT|O_EXCL on disk, a Redis SET NX or a
 * conditional put in S3), which is granted to exactly one creator, so several workers saving
 * models of the same name at once (in one process or many, on one machine or many) never get the
 * same number: the loser tries the next one. There is no lock to leave behind: a
 * worker that dies after claiming leaves a gap in the numbers, never a stuck name. Claims are kept
 * when a model is deleted, so `name@3` never comes to mean a different model.
 */
export class ModelVersions {
  constructor(private readonly store: ObjectStore) {}

  /** Claims the next version of `name` for model `id`. */
  async claim(name: string, id: string): Promise<number> {
    const dir = this.dirOf(name);
    let version = 0;
    for (let attempt = 0; attempt < 1000; attempt++) {
      // Read again after each lost race (never below the number just lost: a listing may lag).
      version = Math.max(version, await this.highest(dir)) + 1;
      if (await this.store.createExclusive(`${dir}/${version}`, id)) return version;
    }
    throw new Error(`could not claim a version of model name '${name}'`);
  }

  /** Every claimed version of `name`, highest first (some of their models may since have been deleted). */
  async list(name: string): Promise<number[]> {
    return (await this.versionsIn(this.dirOf(name))).sort((a, b) => b - a);
  }

  /** The model id of `name@version`, if that version was ever claimed. */
  async idOf(name: string, version: number): Promise<string | undefined> {
    if (!Number.isInteger(version) || version < 1) return undefined;
    return (await this.store.get(`${this.dirOf(name)}/${version}`))?.toString('utf8').trim() || undefined;
  }

  private dirOf(name: string): string {
    // Names are free text: hashed so that any name is a safe directory name.
    return createHash('sha256').update(name).digest('hex').slice(0, 32);
  }

  private async highest(dir: string): Promise<number> {
    return Math.max(0, ...(await this.versionsIn(dir)));
  }

  private async versionsIn(dir: string): Promise<number[]> {
    return (await this.store.list(dir)).filter((f) => /^[1-9][0-9]*$/.test(f)).map(Number);
  }
}
