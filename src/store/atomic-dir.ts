import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes a directory atomically: `fill` writes into a temporary sibling, which is then renamed
 * into place, so readers see the whole directory or nothing. On failure the temporary is removed.
 */
export async function writeDirAtomically<T>(finalDir: string, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  const parent = dirname(finalDir);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, '.tmp-'));
  try {
    const result = await fill(tmp);
    await rename(tmp, finalDir);
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
