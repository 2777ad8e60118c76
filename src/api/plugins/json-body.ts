import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from '../problem.js';
import { shorten } from '../../mtl/values.js';
import { escapePointer } from './error-handler.js';

/** Deepest nesting of lists and objects a JSON body may have: specs and predict instances need a handful. */
export const MAX_JSON_DEPTH = 32;

/**
 * JSON bodies: Fastify's own parser (`__proto__` / `constructor.prototype` keys refused, as the
 * app's options say), then a body nested deeper than MAX_JSON_DEPTH is a 400 naming where. JSON.parse
 * reads any depth, but whatever walks the value recursively later (JSON.stringify in a message, a
 * validator, a log serialiser) would overflow the stack: a 500 for bad input.
 */
async function jsonBody(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && !UTF8.has(charset)) return done(unsupportedCharset(charset), undefined);
    parse(request, body as string, (err, value) => {
      if (err) return done(err, undefined);
      const at = tooDeep(value, MAX_JSON_DEPTH);
      if (at === undefined) return done(null, value);
      const detail = `the JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`;
      done(new HttpProblem(400, 'Invalid request', detail, [{ pointer: shorten(at), detail: `nested more than ${MAX_JSON_DEPTH} levels deep` }]), undefined);
    });
  });
}

/** Charsets read as UTF-8 (JSON is UTF-8, RFC 8259; CSV and NDJSON uploads are read as UTF-8 too). */
export const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The `charset` parameter of a Content-Type header, lower-cased; undefined when it has none. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match ? match[1].toLowerCase() : undefined;
}

/** 415 for a body in a charset other than UTF-8: it would be decoded as UTF-8 and read wrongly. */
export function unsupportedCharset(charset: string): HttpProblem {
  return new HttpProblem(415, 'Unsupported Media Type', `bodies are read as UTF-8; charset '${shorten(charset, 40)}' is not supported`, [
    { pointer: '/headers/content-type', detail: 'charset must be utf-8 (or omitted)' },
  ]);
}

/** The JSON pointer of the first list or object nested deeper than `maxDepth` in `value`, if any (no recursion: the value may be deeper than the stack). */
export function tooDeep(value: unknown, maxDepth: number): string | undefined {
  interface Entry {
    value: object;
    depth: number;
    parent: Entry | null;
    key: string;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Entry[] = [{ value, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry.depth > maxDepth) return pointerOf(entry);
    const children = entry.value as Record<string, unknown>;
    for (const key of Object.keys(children)) {
      const child = children[key];
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: entry.depth + 1, parent: entry, key });
    }
  }
  return undefined;

  function pointerOf(entry: Entry): string {
    const keys: string[] = [];
    for (let e: Entry | null = entry; e && e.parent; e = e.parent) keys.push(escapePointer(shorten(e.key, 40)));
    return '/' + keys.reverse().join('/');
  }
}

export default fp(jsonBody, { name: 'json-body', dependencies: ['error-handler'] });
