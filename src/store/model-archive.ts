import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import type { ModelArtifacts } from '../mtl/serialization.js';
import { PayloadTooLargeError } from './store-errors.js';
import { readTar, TarFormatError, writeTar } from './tar.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

/** What a model archive holds: the three files of a stored model, nothing else. */
export const MODEL_ARCHIVE_FILES = ['model.json', 'weights.bin', 'metadata.json'] as const;
type ArchiveFile = (typeof MODEL_ARCHIVE_FILES)[number];

/** A model archive that cannot be imported (corrupt, truncated, hostile or not a model); the message says why. */
export class ModelArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelArchiveError';
  }
}

/**
 * A model as one `.tar.gz`: `model.json`, `weights.bin`, `metadata.json` at the top level, exactly as
 * the store keeps them, so unpacking it gives a folder tf.loadLayersModel reads.
 */
export async function packModelArchive(files: readonly { name: string; data: Uint8Array }[], mtime = new Date()): Promise<Buffer> {
  return gzip(writeTar(files.map((f) => ({ name: f.name, data: f.data, mtime: mtime.getTime() / 1000 }))));
}

/**
 * Reads a model archive made by packModelArchive (or by `tar czf` of the three files): gunzips it
 * with the output capped at `maxBytes` (a gzip bomb stops there: PayloadTooLargeError), reads the
 * tar in memory, and accepts only regular files named model.json, weights.bin and metadata.json, at
 * the top level (optionally as ./name), each once. Anything else (absolute or `..` paths, links,
 * devices, other files, pax or GNU extension headers) is a ModelArchiveError; nothing is written
 * anywhere. Checks that model.json is a layers model whose weights manifest names weights.bin with
 * exactly as many bytes as weights.bin has. metadata.json is returned parsed, unchecked (the caller
 * checks it against what it serves).
 */
export async function unpackModelArchive(archive: Buffer, maxBytes: number): Promise<{ metadata: unknown; artifacts: ModelArtifacts }> {
  if (archive.length < 2 || archive[0] !== 0x1f || archive[1] !== 0x8b) throw new ModelArchiveError('not a gzip file: a model archive is a .tar.gz (GET /v1/models/{ref}/archive makes one)');
  let tar: Buffer;
  try {
    tar = await gunzip(archive, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
      throw new PayloadTooLargeError(maxBytes, `the archive unpacks to more than the limit of ${maxBytes} bytes`);
    throw new ModelArchiveError(`the gzip data is corrupt or truncated (${(err as Error).message})`);
  }
  let entries;
  try {
    entries = readTar(tar, { maxEntries: 16 });
  } catch (err) {
    if (err instanceof TarFormatError) throw new ModelArchiveError(err.message);
    throw err;
  }
  const files = new Map<ArchiveFile, Buffer>();
  for (const entry of entries) {
    const name = safeName(entry.name);
    if (entry.type === 'directory' && name === '') continue; // "./"
    if (entry.type !== 'file') throw new ModelArchiveError(`entry '${entry.name}' is a ${entry.type}; a model archive holds only the regular files ${MODEL_ARCHIVE_FILES.join(', ')}`);
    if (!(MODEL_ARCHIVE_FILES as readonly string[]).includes(name)) throw new ModelArchiveError(`unexpected entry '${entry.name}'; a model archive holds only ${MODEL_ARCHIVE_FILES.join(', ')}`);
    if (files.has(name as ArchiveFile)) throw new ModelArchiveError(`entry '${name}' appears twice`);
    files.set(name as ArchiveFile, entry.data);
  }
  for (const f of MODEL_ARCHIVE_FILES) if (!files.has(f)) throw new ModelArchiveError(`the archive lacks ${f}`);
  const modelJson = parseJson(files.get('model.json')!, 'model.json');
  const metadata = parseJson(files.get('metadata.json')!, 'metadata.json');
  const weights = files.get('weights.bin')!;
  const { modelTopology, weightSpecs } = checkModelJson(modelJson, weights.length);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  return { metadata, artifacts: { modelTopology, weightSpecs, weightData } };
}

/** The entry's name without leading `./`; refuses absolute paths, `..`, backslashes and control characters. */
function safeName(raw: string): string {
  if (/[\\\u0000-\u001f]/.test(raw) || raw.startsWith('/') || raw.split('/').includes('..')) throw new ModelArchiveError(`entry '${raw}' has an unsafe path`);
  let name = raw;
  while (name.startsWith('./')) name = name.slice(2);
  return name === '.' ? '' : name.replace(/\/$/, '');
}

/** JSON.parse that refuses `__proto__` keys (they would become prototypes if ever merged) and reports which file was bad. */
function parseJson(data: Buffer, file: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'), (key, value) => {
      if (key === '__proto__') throw new ModelArchiveError(`${file} has a "__proto__" key`);
      return value;
    });
  } catch (err) {
    if (err instanceof ModelArchiveError) throw err;
    throw new ModelArchiveError(`${file} is not valid JSON (${(err as Error).message})`);
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function checkModelJson(json: unknown, weightBytes: number): Pick<ModelArtifacts, 'modelTopology' | 'weightSpecs'> {
  const m = json as { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown };
  if (!isObject(m) || !isObject(m.modelTopology)) throw new ModelArchiveError('model.json is not a TensorFlow.js layers model (no modelTopology)');
  if (m.format !== undefined && m.format !== 'layers-model') throw new ModelArchiveError(`model.json has format '${String(m.format)}'; a layers model is needed`);
  const groups = m.weightsManifest;
  if (!Array.isArray(groups) || groups.length !== 1 || !isObject(groups[0])) throw new ModelArchiveError('model.json must have one weightsManifest group');
  const { paths, weights } = groups[0] as { paths?: unknown; weights?: unknown };
  if (!Array.isArray(paths) || paths.length !== 1 || !['weights.bin', './weights.bin'].includes(paths[0] as string))
    throw new ModelArchiveError('the weights manifest of model.json must name weights.bin (and only it)');
  if (!Array.isArray(weights) || weights.length === 0) throw new ModelArchiveError('the weights manifest of model.json lists no weights');
  let needed = 0;
  for (const [i, w] of weights.entries()) {
    const spec = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
    if (!isObject(spec) || typeof spec.name !== 'string' || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      throw new ModelArchiveError(`weight ${i} of model.json needs a name and a shape of non-negative integers`);
    if (typeof spec.dtype !== 'string' || !(spec.dtype in DTYPE_BYTES) || spec.quantization !== undefined)
      throw new ModelArchiveError(`weight '${spec.name}' has dtype ${JSON.stringify(spec.dtype)}${spec.quantization !== undefined ? ' with quantization' : ''}; float32, int32 or bool (unquantized) are accepted`);
    needed += (spec.shape as number[]).reduce((n, d) => n * d, 1) * DTYPE_BYTES[spec.dtype];
  }
  if (needed !== weightBytes) throw new ModelArchiveError(`weights.bin has ${weightBytes} bytes but the manifest of model.json describes ${needed}`);
  return { modelTopology: m.modelTopology as object, weightSpecs: weights as ModelArtifacts['weightSpecs'] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
