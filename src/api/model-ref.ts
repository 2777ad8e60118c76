import { isValidId } from '../shared/ids.js';

/** How a request names a model: its id, its name (the latest version), or `name@version`. */
export type ModelRef = { id: string } | { name: string; version?: number };

/**
 * Reads a model reference: a UUID is an id; `name@<integer>` is that version of the name (split at
 * the last `@`); anything else is a name, meaning its latest version.
 */
export function parseModelRef(ref: string): ModelRef {
  if (isValidId(ref)) return { id: ref };
  const at = /^(.+)@([1-9][0-9]{0,8})$/.exec(ref);
  if (at) return { name: at[1], version: Number(at[2]) };
  return { name: ref };
}
