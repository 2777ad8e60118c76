import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Version numbers of the models saved under one name: 1, 2, 3, … in the order they were saved.
 *
 * A version is claimed by creating the file `<dir>/<hash of name>/<version>` (holding the model
 * id) with O_CREAT|O_EXCL, which the filesystem grants to exactly one creator, so several workers
 * saving models of the same name at once (in one process or many, sharing DATA_DIR) never get the
 * same number: the loser sees EEXIST and tries the next one. There is no lock to leave behind: a
 * worker that dies after claiming leaves a gap in the numbers, never a stuck name. Claims are kept
 * when a model is deleted, so `name@3` never comes to mean a different model.
 */
export class ModelVersions {
  constructor(private readonly dir: string) {}

  /** Claims the next version of `name` for model `id`. */
  async claim(name: string, id: string): Promise<number> {
    const dir = this.dirOf(name);
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; attempt < 1000; attempt++) {
      const version = (await this.highest(dir)) + 1; // read again after each lost race
      try {
        await writeFile(join(dir, String(version)), id, { flag: 'wx' });
        return version;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new Error(`could not claim a version of model name '${name}'`);
  }

  /** Every claimed version of `name`, highest first (some of their models may since have been deleted). */
  async list(name: string): Promise<number[]> {
    return (await this.versionsIn(this.dirOf(name))).sort((a, b) => b - a);
  }

  /** The model id of `name@version`, if that version was ever claimed. */
  async idOf(name: string, version: number): Promise<string | undefined> {
    try {
      return (await readFile(join(this.dirOf(name), String(version)), 'utf8')).trim() || undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private dirOf(name: string): string {
    // Names are free text: hashed so that any name is a safe directory name.
    return join(this.dir, createHash('sha256').update(name).digest('hex').slice(0, 32));
  }

  private async highest(dir: string): Promise<number> {
    return Math.max(0, ...(await this.versionsIn(dir)));
  }

  private async versionsIn(dir: string): Promise<number[]> {
    try {
      return (await readdir(dir)).filter((f) => /^[1-9][0-9]*$/.test(f)).map(Number);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
