/**
 * A minimal reader and writer of ustar archives (POSIX.1-1988 tar), enough for model archives:
 * regular files and directories, no links, no devices, no pax or GNU extensions. The reader works
 * on a buffer already in memory (the caller bounds its size) and never touches the filesystem:
 * entry names are returned as written, for the caller to check.
 */

const BLOCK = 512;

/** An archive that cannot be read: corrupt, truncated, or using a feature this reader refuses. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export type TarEntryType = 'file' | 'directory' | 'hard link' | 'symbolic link' | 'character device' | 'block device' | 'fifo' | 'pax header' | 'GNU long name' | 'other';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** The type flag as written (e.g. '0', '2', 'x'). */
  flag: string;
  size: number;
  /** The file's bytes (a view into the archive buffer); empty for anything but a file. */
  data: Buffer;
}

export interface TarFile {
  name: string;
  data: Uint8Array;
  /** Seconds since the epoch (default 0). */
  mtime?: number;
  /** Permission bits (default 0o644). */
  mode?: number;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file for every reader that matters
  '1': 'hard link',
  '2': 'symbolic link',
  '3': 'character device',
  '4': 'block device',
  '5': 'directory',
  '6': 'fifo',
  x: 'pax header',
  g: 'pax header',
  L: 'GNU long name',
  K: 'GNU long name',
};

/** Packs files into a ustar archive (names of at most 100 bytes, plain ASCII). */
export function writeTar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    if (name.length === 0 || name.length > 100) throw new Error(`tar entry name '${f.name}' must be 1 to 100 bytes`);
    const header = Buffer.alloc(BLOCK);
    name.copy(header, 0);
    octal(header, 100, 8, f.mode ?? 0o644);
    octal(header, 108, 8, 0);
    octal(header, 116, 8, 0);
    octal(header, 124, 12, f.data.byteLength);
    octal(header, 136, 12, Math.max(0, Math.floor(f.mtime ?? 0)));
    header.write('0', 156, 'latin1');
    header.write('ustar\u000000', 257, 'latin1');
    header.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
    octal(header, 148, 7, checksum(header));
    header[155] = 0x20;
    parts.push(header, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
    const pad = (BLOCK - (f.data.byteLength % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // end of archive: two zero blocks
  return Buffer.concat(parts);
}

/**
 * Reads every entry of a tar archive held in memory. Throws TarFormatError when a header's checksum
 * is wrong, a field is not octal, an entry runs past the end (truncated), or there are more than
 * `maxEntries` entries. Entries of every type are returned (links and devices with their type), so
 * the caller decides what to refuse.
 */
export function readTar(archive: Buffer, { maxEntries = 64 }: { maxEntries?: number } = {}): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > archive.length) {
      if (offset === archive.length && entries.length > 0) return entries; // no end blocks: tolerated, as GNU tar does
      throw new TarFormatError('the archive is truncated (a header block is cut short)');
    }
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) {
      if (entries.length === 0) throw new TarFormatError('the archive holds no entries');
      return entries;
    }
    const stored = parseOctal(header, 148, 8, 'checksum');
    if (stored !== checksum(header)) throw new TarFormatError(`entry ${entries.length + 1}: header checksum mismatch (not a tar archive, or corrupt)`);
    const flag = String.fromCharCode(header[156]);
    const magic = header.toString('latin1', 257, 263);
    const posix = magic === 'ustar\u0000';
    let name = cString(header, 0, 100);
    if (posix) {
      const prefix = cString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const size = parseOctal(header, 124, 12, 'size');
    const type = TYPES[flag] ?? 'other';
    const start = offset + BLOCK;
    const end = start + size;
    if (end > archive.length) throw new TarFormatError(`entry '${name}' is truncated: ${size} bytes announced, ${Math.max(0, archive.length - start)} present`);
    entries.push({ name, type, flag, size, data: type === 'file' ? archive.subarray(start, end) : Buffer.alloc(0) });
    if (entries.length > maxEntries) throw new TarFormatError(`the archive has more than ${maxEntries} entries`);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum;
}

function octal(buf: Buffer, at: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new Error(`${value} does not fit a ${width}-byte tar field`);
  buf.write(digits, at, 'latin1');
  buf[at + width - 1] = 0;
}

function parseOctal(buf: Uint8Array, at: number, width: number, field: string): number {
  if (buf[at] & 0x80) throw new TarFormatError(`the ${field} field uses base-256 encoding, which this reader does not support`);
  const text = Buffer.from(buf.subarray(at, at + width)).toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (!/^[0-7]{1,12}$/.test(text)) throw new TarFormatError(`the ${field} field of a header is not an octal number`);
  return parseInt(text, 8);
}

function cString(buf: Uint8Array, at: number, width: number): string {
  const field = buf.subarray(at, at + width);
  const nul = field.indexOf(0);
  return Buffer.from(nul < 0 ? field : field.subarray(0, nul)).toString('utf8');
}
