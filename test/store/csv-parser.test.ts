import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { parseCsvRecords } from '../../src/store/csv-parser.js';
import { DatasetFormatError } from '../../src/store/store-errors.js';
import { createRng } from '../../src/mtl/rng.js';

/** The text as a byte stream cut into `size`-byte chunks (cuts fall inside multi-byte characters too). */
function chunked(text: string, size = 7): Readable {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function records(text: string, size?: number, max = 1 << 20): Promise<string[][]> {
  const out: string[][] = [];
  for await (const r of parseCsvRecords(chunked(text, size), max)) out.push(r);
  return out;
}

async function failure(text: string, max?: number): Promise<DatasetFormatError> {
  try {
    await records(text, 5, max);
  } catch (err) {
    assert.ok(err instanceof DatasetFormatError, String(err));
    return err;
  }
  assert.fail(`parsed: ${JSON.stringify(text)}`);
}

describe('CSV parser', () => {
  it('reads quoted fields (commas, doubled quotes, line breaks), CRLF, a BOM, empty lines and a last line without a break', async () => {
    const text = '\uFEFFa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\r\nlines",é€😀\n3,,""';
    assert.deepEqual(await records(text), [
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', 'two\nlines', 'é€😀'],
      ['3', '', ''],
    ]);
    for (const size of [1, 2, 3, 64]) assert.deepEqual(await records(text, size), await records(text), `chunks of ${size}`);
  });

  it('refuses malformed records with the line they start on', async () => {
    const wrong = await failure('a,b\n1,2\n"multi\nline",2\n3,4,5\n');
    assert.equal(wrong.line, 5);
    assert.match(wrong.message, /expected 2 fields.*got 3/);
    assert.equal((await failure('a,b\n1,"never closed\n2,3\n')).line, 2);
    assert.match((await failure('a,b\n1,"x"y\n')).message, /after the closing quote/);
    assert.match((await failure('a,b\n1,x"y"\n')).message, /quote inside unquoted field 2/);
    const long = await failure('a\n' + 'x'.repeat(100) + '\n', 50);
    assert.match(long.message, /longer than 50/);
  });

  it('gives the fields that were written, as csv-parse reads them too (random tables, random chunking)', async () => {
    const rand = createRng(4242);
    const quote = (f: string) => (/[",\r\n]/.test(f) || rand() < 0.2 ? `"${f.replaceAll('"', '""')}"` : f);
    for (let table = 0; table < 200; table++) {
      // One line break per file, inside fields and between records (csv-parse takes the first it meets for records).
      const br = rand() < 0.5 ? '\n' : '\r\n';
      const alphabet = ['a', 'b', '1', '.', ',', '"', br, ' ', 'é', '😀', '|'];
      const field = () => Array.from({ length: Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      const width = 1 + Math.floor(rand() * 5);
      const rows = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Array.from({ length: width }, field));
      // A record of one empty field is an empty line, which CSV readers skip: keep every record non-empty.
      for (const row of rows) if (row.join('') === '') row[0] = 'x';
      const text = rows.map((r) => r.map(quote).join(',')).join(br) + (rand() < 0.5 ? br : '');
      const ours = await records(text, 1 + Math.floor(rand() * 16));
      // Line breaks inside quotes come back as \n (CRLF inside a field is read as one break).
      const written = rows.map((r) => r.map((f) => f.replaceAll('\r\n', '\n')));
      assert.deepEqual(ours, written, JSON.stringify(text));
      const theirs = (parse(text, { relax_column_count: false }) as string[][]).map((r) => r.map((f) => f.replaceAll('\r\n', '\n')));
      assert.deepEqual(ours, theirs, JSON.stringify(text));
    }
  });
});
