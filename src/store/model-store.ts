import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelArtifacts } from '../mtl/serialization.js';
import { writeDirAtomically } from './atomic-dir.js';
import { isValidId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import type { ModelMetadata } from './model-metadata.js';
import { ModelVersions } from './model-versions.js';
import { ModelAliases, type ModelAlias } from './model-aliases.js';

const META = 'metadata.json';
const TOPOLOGY = 'model.json';
const WEIGHTS = 'weights.bin';

/**
 * Trained models on disk, one directory each: `model.json` + `weights.bin` (the standard
 * TensorFlow.js layers format, loadable by tf.loadLayersModel) and `metadata.json` (tasks, label
 * sets, preprocessing, metrics, version). Written atomically. Models saved under the same name are
 * numbered 1, 2, 3, … (see ModelVersions, under `.versions/`); aliases point at versions (see
 * ModelAliases, under `.aliases/`).
 */
export class ModelStore {
  private readonly versions: ModelVersions;
  private readonly aliases: ModelAliases;

  constructor(private readonly dir: string) {
    this.versions = new ModelVersions(join(dir, '.versions'));
    this.aliases = new ModelAliases(join(dir, '.aliases'));
  }

  /** Saves a model as the next version of its name; returns the metadata as saved (with `version`). */
  async save(metadata: ModelMetadata, artifacts: ModelArtifacts): Promise<ModelMetadata> {
    if (!isValidId(metadata.id)) throw new Error(`invalid model id '${metadata.id}'`);
    return writeDirAtomically(join(this.dir, metadata.id), async (tmp) => {
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'mtl-service',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS}`], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(tmp, TOPOLOGY), JSON.stringify(modelJson));
      await writeFile(join(tmp, WEIGHTS), new Uint8Array(artifacts.weightData));
      // Claimed last, just before the rename, so a failed write rarely costs a version number.
      const saved: ModelMetadata = { ...metadata, version: await this.versions.claim(metadata.name, metadata.id) };
      await writeFile(join(tmp, META), JSON.stringify(saved, null, 2));
      return saved;
    });
  }

  /**
   * Saves a copy of a stored model under another id and name, as the next version of that name
   * (a study's best trial becomes a model named after the study).
   */
  async copyAs(sourceId: string, target: { id: string; name: string }): Promise<ModelMetadata> {
    const files = Object.fromEntries((await this.files(sourceId)).map((f) => [f.name, f.data]));
    const modelJson = JSON.parse(files[TOPOLOGY].toString('utf8')) as { modelTopology: object; weightsManifest: { weights: ModelArtifacts['weightSpecs'] }[] };
    const metadata = JSON.parse(files[META].toString('utf8')) as ModelMetadata;
    const weights = files[WEIGHTS];
    const artifacts: ModelArtifacts = {
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    };
    const { version: _version, ...rest } = metadata;
    return this.save({ ...rest, id: target.id, name: target.name }, artifacts);
  }

  /**
   * The id of `name@version`, or of the latest version of `name` still stored. NotFoundError when
   * there is none.
   */
  async resolve(name: string, version?: number): Promise<string> {
    const candidates = version === undefined ? await this.versions.list(name) : [version];
    for (const v of candidates) {
      const id = await this.versions.idOf(name, v);
      if (id === undefined || !isValidId(id)) continue;
      const metadata = await this.get(id).catch(() => undefined);
      if (metadata?.name === name) return id;
    }
    const what = version === undefined ? `named '${name}'` : `'${name}@${version}'`;
    throw new NotFoundError('model', version === undefined ? name : `${name}@${version}`, `no model ${what}`);
  }

  /**
   * The id a reference by name means: `name` (its latest version), `name@version`, or `name@alias`.
   * A name may itself contain `@` (dataset names are free text): when `name@alias` names no alias,
   * the whole reference is tried as a name before NotFoundError.
   */
  async resolveRef(ref: { name: string; version?: number; alias?: string }): Promise<string> {
    if (ref.alias === undefined) return this.resolve(ref.name, ref.version);
    const version = await this.aliases.get(ref.name, ref.alias);
    if (version !== undefined) return this.resolve(ref.name, version);
    const whole = `${ref.name}@${ref.alias}`;
    if ((await this.versions.list(whole)).length > 0) return this.resolve(whole);
    throw new NotFoundError('model', whole, `no alias '${ref.alias}' of model '${ref.name}'`);
  }

  /** Points `name@alias` at an existing `name@version` (created or moved atomically); returns that model's id. */
  async setAlias(name: string, alias: string, version: number): Promise<string> {
    const id = await this.resolve(name, version);
    await this.aliases.set(name, alias, version);
    return id;
  }

  /** Removes `name@alias`; NotFoundError when there is no such alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    if (!(await this.aliases.delete(name, alias))) throw new NotFoundError('model', `${name}@${alias}`, `no alias '${alias}' of model '${name}'`);
  }

  /** The aliases of `name` with the versions they point at, by alias. */
  async aliasesOf(name: string): Promise<ModelAlias[]> {
    return this.aliases.list(name);
  }

  /** The stored files of a model as they are on disk: `model.json`, `weights.bin`, `metadata.json`. */
  async files(id: string): Promise<{ name: string; data: Buffer }[]> {
    await this.get(id);
    try {
      return await Promise.all([TOPOLOGY, WEIGHTS, META].map(async (name) => ({ name, data: await readFile(join(this.dir, id, name)) })));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('model', id); // deleted meanwhile
      throw err;
    }
  }

  /**
   * Changes whenever the model's directory is replaced or removed (inode, mtime and size of its
   * metadata): one stat, for caches to check they still hold what is stored. NotFoundError when gone.
   */
  async stamp(id: string): Promise<string> {
    if (!isValidId(id)) throw new NotFoundError('model', id);
    try {
      const s = await stat(join(this.dir, id, META));
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('model', id);
      throw err;
    }
  }

  async get(id: string): Promise<ModelMetadata> {
    if (!isValidId(id)) throw new NotFoundError('model', id);
    try {
      return JSON.parse(await readFile(join(this.dir, id, META), 'utf8')) as ModelMetadata;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('model', id);
      throw err;
    }
  }

  async loadArtifacts(id: string): Promise<{ metadata: ModelMetadata; artifacts: ModelArtifacts }> {
    const metadata = await this.get(id);
    const modelJson = JSON.parse(await readFile(join(this.dir, id, TOPOLOGY), 'utf8'));
    const weights = await readFile(join(this.dir, id, WEIGHTS));
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    return { metadata, artifacts: { modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData } };
  }

  /** Every model, newest first; with `name`, the versions of that name, highest first. */
  async list(filter: { name?: string } = {}): Promise<ModelMetadata[]> {
    await mkdir(this.dir, { recursive: true });
    const ids = (await readdir(this.dir)).filter(isValidId);
    const all = (await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)))).filter((m): m is ModelMetadata => m !== undefined);
    if (filter.name === undefined) return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return all.filter((m) => m.name === filter.name).sort((a, b) => (b.version ?? 0) - (a.version ?? 0) || b.createdAt.localeCompare(a.createdAt));
  }

  async exists(id: string): Promise<boolean> {
    return this.get(id).then(() => true, () => false);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await rm(join(this.dir, id), { recursive: true, force: true });
  }
}
