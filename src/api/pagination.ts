import { Type, type Static } from '@sinclair/typebox';
import { HttpProblem } from './problem.js';

/**
 * Lists in pages: `?limit=` (1–1000, default 100) and `?cursor=` (the `nextCursor` of the page
 * before). A list has a stable total order — a sort key (creation time, or version) then the id,
 * both descending — and a cursor is the position of the last item served, so the next page starts
 * strictly after it: items added or deleted meanwhile never repeat or skip the ones that remain.
 * The cursor is opaque to callers (base64url JSON), checked when read back.
 */
export const PageQuerySchema = Type.Object({
  // A string, as every query parameter here (the API does not coerce types): an integer 1–1000.
  limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: 'Page size: an integer 1–1000 (default 100).', examples: ['100'] })),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 512, description: 'Opaque: the nextCursor of the previous page. Absent: the first page.' }),
  ),
});
export type PageQuery = Static<typeof PageQuerySchema>;

export const NextCursorSchema = Type.Optional(
  Type.String({ description: 'Pass as ?cursor= to get the next page; absent on the last page.' }),
);

/** Where an item sits in its list's order: a sort key then the id, both descending. */
export type SortKey = [string | number, string];

function compareDesc(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? 1 : -1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? 1 : -1;
}

function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): SortKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== 2 || !['string', 'number'].includes(typeof key[0]) || typeof key[1] !== 'string') {
    throw new HttpProblem(400, 'Bad request', 'cursor is not one this service handed out', [
      { pointer: '/querystring/cursor', detail: 'not a cursor from a previous page (pass nextCursor unchanged)' },
    ]);
  }
  return key as SortKey;
}

/** One page of `items` in the order of `keyOf` (sorted here), and the cursor of the next page. */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => SortKey, query: PageQuery): { page: T[]; nextCursor?: string } {
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  const keyed = items.map((item) => ({ item, key: keyOf(item) })).sort((a, b) => compareDesc(a.key, b.key));
  let start = 0;
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    start = keyed.findIndex((k) => compareDesc(k.key, after) > 0);
    if (start < 0) start = keyed.length;
  }
  const slice = keyed.slice(start, start + limit);
  const more = start + limit < keyed.length;
  return { page: slice.map((k) => k.item), ...(more ? { nextCursor: encodeCursor(slice[slice.length - 1].key) } : {}) };
}
