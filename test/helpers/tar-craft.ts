import { gzipSync } from 'node:zlib';

/**
 * Hand-made tar entries for tests of hostile archives: any name, any type flag, a link target, a
 * size field that lies. Written independently of src/store/tar.ts, so the reader is checked against
 * bytes it did not make.
 */
export interface CraftedEntry {
  name: string;
  data?: Uint8Array | string;
  /** Type flag: '0' file (default), '1' hard link, '2' symlink, '3' char device, '5' directory, 'x' pax header… */
  type?: string;
  linkname?: string;
  /** The size field, when it should differ from the data's length. */
  size?: number;
  /** Corrupt the header checksum. */
  badChecksum?: boolean;
}

export function craftTar(entries: CraftedEntry[], { end = true }: { end?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data ?? new Uint8Array());
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(`${(e.size ?? data.length).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    h.write('00000000000\0', 136, 'latin1');
    h.write(e.type ?? '0', 156, 'latin1');
    if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
    h.write('ustar\u000000', 257, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    if (e.badChecksum) sum += 1;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function craftTarGz(entries: CraftedEntry[], options?: { end?: boolean }): Buffer {
  return gzipSync(craftTar(entries, options));
}
