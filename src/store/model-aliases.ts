import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What an alias may be called: it starts with a letter, so `name@<digits>` always means a version. */
export const ALIAS_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';
const ALIAS = new RegExp(ALIAS_PATTERN);

export function isValidAlias(alias: string): boolean {
  return ALIAS.test(alias);
}

/** One alias of a model name: `name@alias` means `name@version`. */
export interface ModelAlias {
  alias: string;
  version: number;
}

/**
 * Movable names for versions of a model name (`digits-mtl@prod` → version 3), one small file each:
 * `<dir>/<hash of name>/<alias>` holding `{"version": n}`.
 *
 * Moving an alias writes the new file under a temporary name beside it and renames it over the old
 * one. rename(2) replaces the directory entry atomically, so a reader (in this process or another
 * one sharing DATA_DIR) opens either the old file or the new one, never a half-written one and
 * never nothing; of several concurrent moves, the last rename wins whole. A crash leaves at most a
 * temporary file, which no reader looks at.
 */
export class ModelAliases {
  constructor(private readonly dir: string) {}

  /** Points `name@alias` at `version` (creating or moving the alias). */
  async set(name: string, alias: string, version: number): Promise<void> {
    if (!isValidAlias(alias)) throw new Error(`invalid alias '${alias}'`);
    const dir = this.dirOf(name);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${alias}-${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, JSON.stringify({ version }));
    try {
      await rename(tmp, join(dir, alias));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** The version `name@alias` points at; undefined when there is no such alias. */
  async get(name: string, alias: string): Promise<number | undefined> {
    if (!isValidAlias(alias)) return undefined;
    let text: string;
    try {
      text = await readFile(join(this.dirOf(name), alias), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return Number.isInteger(version) && (version as number) >= 1 ? (version as number) : undefined;
  }

  /** Removes the alias; false when there was none. */
  async delete(name: string, alias: string): Promise<boolean> {
    if (!isValidAlias(alias)) return false;
    try {
      await unlink(join(this.dirOf(name), alias));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Every alias of `name`, by alias. */
  async list(name: string): Promise<ModelAlias[]> {
    let files: string[];
    try {
      files = (await readdir(this.dirOf(name))).filter(isValidAlias);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const found = await Promise.all(files.map(async (alias) => ({ alias, version: await this.get(name, alias) })));
    return found.filter((a): a is ModelAlias => a.version !== undefined).sort((a, b) => a.alias.localeCompare(b.alias));
  }

  private dirOf(name: string): string {
    // Names are free text: hashed so that any name is a safe directory name (as ModelVersions does).
    return join(this.dir, createHash('sha256').update(name).digest('hex').slice(0, 32));
  }
}
