import type { ModelAlias } from '../store/model-aliases.js';
import type { ModelStore } from '../store/model-store.js';

/** Models with `aliases`: the aliases of their name that point at their version (one read per name). */
export async function withAliases<T extends { name: string; version?: number }>(store: ModelStore, models: T[]): Promise<(T & { aliases: string[] })[]> {
  const byName = new Map<string, Promise<ModelAlias[]>>();
  for (const m of models) if (!byName.has(m.name)) byName.set(m.name, store.aliasesOf(m.name));
  return Promise.all(
    models.map(async (m) => ({ ...m, aliases: (await byName.get(m.name)!).filter((a) => m.version !== undefined && a.version === m.version).map((a) => a.alias) })),
  );
}
