import { createHash } from 'node:crypto';
import type { ObjectStore } from './object-store.js';

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
 * Movable names for versions of a model name (`digits-mtl@prod` → version 3), one small object
 * each: `<hash of name>/<alias>` holding `{"version": n}`.
 *
 * Moving an alias replaces the object whole (ObjectStore.put: on disk a temporary file renamed over
 * the old one, in S3 one put), so a reader (in this process or another, on any machine) reads
 * either the old pointer or the new one, never a half-written one and never nothing; of several
 * concurrent moves, the last one wins whole.
 */
export class ModelAliases {
  constructor(private readonly store: ObjectStore) {}

  /** Points `name@alias` at `version` (creating or moving the alias). */
  async set(name: string, alias: string, version: number): Promise<void> {
    if (!isValidAlias(alias)) throw new Error(`invalid alias '${alias}'`);
    await this.store.put(`${this.dirOf(name)}/${alias}`, JSON.stringify({ version }));
  }

  /** The version `name@alias` points at; undefined when there is no such alias. */
  async get(name: string, alias: string): Promise<number | undefined> {
    if (!isValidAlias(alias)) return undefined;
    const bytes = await this.store.get(`${this.dirOf(name)}/${alias}`);
    if (bytes === undefined) return undefined;
    const version = (JSON.parse(bytes.toString('utf8')) as { version?: unknown }).version;
    return Number.isInteger(version) && (version as number) >= 1 ? (version as number) : undefined;
  }

  /** Removes the alias; false when there was none. */
  async delete(name: string, alias: string): Promise<boolean> {
    if (!isValidAlias(alias)) return false;
    const key = `${this.dirOf(name)}/${alias}`;
    if ((await this.store.head(key)) === undefined) return false;
    await this.store.delete(key);
    return true;
  }

  /** Every alias of `name`, by alias. */
  async list(name: string): Promise<ModelAlias[]> {
    const files = (await this.store.list(this.dirOf(name))).filter(isValidAlias);
    const found = await Promise.all(files.map(async (alias) => ({ alias, version: await this.get(name, alias) })));
    return found.filter((a): a is ModelAlias => a.version !== undefined).sort((a, b) => a.alias.localeCompare(b.alias));
  }

  private dirOf(name: string): string {
    // Names are free text: hashed so that any name is a safe directory name (as ModelVersions does).
    return createHash('sha256').update(name).digest('hex').slice(0, 32);
  }
}
