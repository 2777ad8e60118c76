import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import { parseCsvRecords } from './csv-parser.js';
import { DatasetFormatError, PayloadTooLargeError } from './store-errors.js';

export type TabularFormat = 'csv' | 'ndjson';

const MAX_FIELD_BYTES = 1024 * 1024;

/** Passes bytes through, counting them (`bytes`), and fails the stream past `limit`. */
export class ByteLimit extends Transform {
  bytes = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) done(new PayloadTooLargeError(this.limit));
    else done(null, chunk);
  }
}

/**
 * Parses a CSV (header row first) or NDJSON (one JSON object a line) stream into rows. CSV gives
 * arrays of cells, the checked header first; cells stay strings (types are inferred later). NDJSON
 * gives objects, values as JSON gave them.
 */
export async function* parseRows(input: Readable, format: TabularFormat): AsyncGenerator<string[] | Record<string, unknown>> {
  if (format === 'csv') yield* parseCsv(input);
  else yield* parseNdjson(input);
}

async function* parseCsv(input: Readable): AsyncGenerator<string[]> {
  let header = true;
  for await (const record of parseCsvRecords(input, MAX_FIELD_BYTES * 16)) {
    yield header ? checkHeader(record) : record;
    header = false;
  }
}

function checkHeader(header: string[]): string[] {
  const seen = new Set<string>();
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (name === '') throw new DatasetFormatError(`column ${i + 1} of the header has no name`, 1);
    if (seen.has(name)) throw new DatasetFormatError(`column name '${name}' appears twice in the header`, 1);
    if (name === '__proto__') throw new DatasetFormatError(`column name '__proto__' is not allowed`, 1);
    seen.add(name);
  });
  return header.map((h) => h.trim());
}

async function* parseNdjson(input: Readable): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  const failed = new Promise<never>((_, reject) => input.on('error', reject));
  failed.catch(() => undefined);
  let line = 0;
  const iterator = lines[Symbol.asyncIterator]();
  while (true) {
    const next = await Promise.race([iterator.next(), failed]);
    if (next.done) break;
    line++;
    const text = next.value.trim();
    if (text === '') continue;
    if (text.length > MAX_FIELD_BYTES * 16) throw new DatasetFormatError('line is too long', line);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new DatasetFormatError(`not valid JSON (${(err as Error).message})`, line);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetFormatError('each line must be a JSON object', line);
    if (Object.prototype.hasOwnProperty.call(value, '__proto__')) throw new DatasetFormatError(`field name '__proto__' is not allowed`, line);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!isCell(record[key])) throw new DatasetFormatError(`field '${key}' must be a string, number, boolean, null or a list of those`, line);
    }
    yield value as Record<string, unknown>;
  }
}

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return t === 'number' || t === 'string' || t === 'boolean';
}

function isCell(v: unknown): boolean {
  return v === null || isScalar(v) || (Array.isArray(v) && v.every(isScalar));
}
