import { Transform, type Readable } from 'node:stream';
import { parseCsvRecords, recordTooLong } from './csv-parser.js';
import { DatasetFormatError, PayloadTooLargeError } from './store-errors.js';
import { shorten } from '../mtl/values.js';

export type TabularFormat = 'csv' | 'ndjson';

/** The longest record (CSV row, NDJSON line) by default: docs/security.md's 1 MB (DATASET_MAX_RECORD_BYTES). */
export const MAX_RECORD_CHARS = 1024 * 1024;

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
export async function* parseRows(input: Readable, format: TabularFormat, maxRecordChars = MAX_RECORD_CHARS): AsyncGenerator<string[] | Record<string, unknown>> {
  if (format === 'csv') yield* parseCsv(input, maxRecordChars);
  else yield* parseNdjson(input, maxRecordChars);
}

async function* parseCsv(input: Readable, maxRecordChars: number): AsyncGenerator<string[]> {
  let header = true;
  for await (const record of parseCsvRecords(input, maxRecordChars)) {
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

async function* parseNdjson(input: Readable, maxRecordChars: number): AsyncGenerator<Record<string, unknown>> {
  let line = 0;
  for await (const raw of lines(input, maxRecordChars)) {
    line++;
    const text = raw.trim();
    if (text === '') continue;
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
      const cell = record[key];
      if (!isCell(cell)) throw new DatasetFormatError(`field '${shorten(key)}' must be a string, number, boolean, null or a list of those`, line);
      // JSON.parse reads 1e309 as Infinity, which would be stored (and read) as a missing value.
      if (!finiteNumbers(cell)) throw new DatasetFormatError(`field '${shorten(key)}' holds a number too large for a double (beyond ±1.8e308)`, line);
    }
    yield value as Record<string, unknown>;
  }
}

/**
 * The lines of a stream (LF or CRLF; a last line without a break too). Unlike readline, a line is
 * never gathered past `maxRecordChars`: a stream with no line breaks fails as soon as it is too long.
 */
async function* lines(input: Readable, maxRecordChars: number): AsyncGenerator<string> {
  input.setEncoding('utf8'); // multi-byte characters split across chunks are joined
  let rest = '';
  let line = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    const data = rest + chunk;
    let start = 0;
    for (let nl = data.indexOf('\n', rest.length); nl >= 0; nl = data.indexOf('\n', start)) {
      line++;
      if (nl - start > maxRecordChars) throw recordTooLong(maxRecordChars, line);
      yield data.slice(start, nl);
      start = nl + 1;
    }
    rest = data.slice(start);
    if (rest.length > maxRecordChars) throw recordTooLong(maxRecordChars, line + 1);
  }
  if (rest !== '') yield rest;
}

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return t === 'number' || t === 'string' || t === 'boolean';
}

function finiteNumbers(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  return !Array.isArray(v) || v.every((x) => typeof x !== 'number' || Number.isFinite(x));
}

function isCell(v: unknown): boolean {
  return v === null || isScalar(v) || (Array.isArray(v) && v.every(isScalar));
}
