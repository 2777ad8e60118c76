import { isValidId } from '../shared/ids.js';
import { ALIAS_PATTERN } from '../store/model-aliases.js';

/** How a request names a model: its id, its name (the latest version), `name@version` or `name@alias`. */
export type ModelRef = { id: string } | { name: string; version?: number; alias?: string };

const VERSIONED = /^(.+)@([1-9][0-9]{0,8})$/;
const ALIASED = new RegExp(`^(.+)@(${ALIAS_PATTERN.slice(1, -1)})$`);

/**
 * Reads a model reference: a UUID is an id; `name@<integer>` is that version of the name and
 * `name@<alias>` (an alias starts with a letter) the version the alias points at, both split at the
 * last `@`; anything else is a name, meaning its latest version.
 */
export function parseModelRef(ref: string): ModelRef {
  if (isValidId(ref)) return { id: ref };
  const at = VERSIONED.exec(ref);
  if (at) return { name: at[1], version: Number(at[2]) };
  const aliased = ALIASED.exec(ref);
  if (aliased) return { name: aliased[1], alias: aliased[2] };
  return { name: ref };
}

/** The name part of a reference (undefined for an id). */
export function nameOfRef(ref: string): string | undefined {
  const parsed = parseModelRef(ref);
  return 'name' in parsed ? parsed.name : undefined;
}
