import type { ModelArtifacts } from '../mtl/serialization.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { isValidId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import type { ModelMetadata } from './model-metadata.js';
import { ModelVersions } from './model-versions.js';
import { ModelAliases, type ModelAlias } from './model-aliases.js';

const META = 'metadata.json';
const TOPOLOGY = 'model.json';
const WEIGHTS = 'weights.bin';

/**
 * Trained models in the object store, one prefix (directory) each: `model.json` + `weights.bin`
 * (the standard TensorFlow.js layers format, loadable by tf.loadLayersModel) and `metadata.json`
 * (tasks, label sets, preprocessing, metrics, version), the manifest, written last (see
 * ObjectStore.publish). Models saved under the same name are numbered 1, 2, 3, … (see
 * ModelVersions, under `.versions/`); aliases point at versions (see ModelAliases, under
 * `.aliases/`). A string is a directory on disk (the `file://` backend).
 */
export class ModelStore {
  private readonly store: ObjectStore;
  private readonly versions: ModelVersions;
  private readonly aliases: ModelAliases;

  constructor(dirOrStore: string | ObjectStore) {
    this.store = typeof dirOrStore === 'string' ? new FileObjectStore(dirOrStore) : dirOrStore;
    this.versions = new ModelVersions(this.store.at('.versions'));
    this.aliases = new ModelAliases(this.store.at('.aliases'));
  }

  /** Saves a model as the next version of its name; returns the metadata as saved (with `version`). */
  async save(metadata: ModelMetadata, artifacts: ModelArtifacts): Promise<ModelMetadata> {
    if (!isValidId(metadata.id)) throw new Error(`invalid model id '${metadata.id}'`);
    return this.store.publish(metadata.id, META, async (group) => {
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'mtl-service',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS}`], weights: artifacts.weightSpecs }],
      };
      await group.put(TOPOLOGY, JSON.stringify(modelJson));
      await group.put(WEIGHTS, new Uint8Array(artifacts.weightData));
      // Claimed last, just before publishing, so a failed write rarely costs a version number.
      const saved: ModelMetadata = { ...metadata, version: await this.versions.claim(metadata.name, metadata.id) };
      return { value: saved, manifest: JSON.stringify(saved, null, 2) };
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

  /** The stored files of a model as they are stored: `model.json`, `weights.bin`, `metadata.json`. */
  async files(id: string): Promise<{ name: string; data: Buffer }[]> {
    await this.get(id);
    return Promise.all([TOPOLOGY, WEIGHTS, META].map(async (name) => ({ name, data: await this.part(id, name) })));
  }

  /** One stored file of a model; NotFoundError when it is gone (deleted meanwhile). */
  private async part(id: string, name: string): Promise<Buffer> {
    const data = await this.store.get(`${id}/${name}`);
    if (data === undefined) throw new NotFoundError('model', id);
    return data;
  }

  /**
   * Changes whenever the model is replaced or removed (on disk: inode, mtime and size of its
   * metadata; in S3: its ETag, time and size): one stat or HEAD, for caches to check they still
   * hold what is stored. NotFoundError when gone.
   */
  async stamp(id: string): Promise<string> {
    if (!isValidId(id)) throw new NotFoundError('model', id);
    const info = await this.store.head(`${id}/${META}`);
    if (info === undefined) throw new NotFoundError('model', id);
    return info.stamp;
  }

  async get(id: string): Promise<ModelMetadata> {
    if (!isValidId(id)) throw new NotFoundError('model', id);
    const bytes = await this.store.get(`${id}/${META}`);
    if (bytes === undefined) throw new NotFoundError('model', id);
    return JSON.parse(bytes.toString('utf8')) as ModelMetadata;
  }

  async loadArtifacts(id: string): Promise<{ metadata: ModelMetadata; artifacts: ModelArtifacts }> {
    const metadata = await this.get(id);
    const modelJson = JSON.parse((await this.part(id, TOPOLOGY)).toString('utf8'));
    const weights = await this.part(id, WEIGHTS);
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    return { metadata, artifacts: { modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData } };
  }

  /** Every model, newest first; with `name`, the versions of that name, highest first. */
  async list(filter: { name?: string } = {}): Promise<ModelMetadata[]> {
    const ids = (await this.store.list()).filter(isValidId);
    const all = (await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)))).filter((m): m is ModelMetadata => m !== undefined);
    if (filter.name === undefined) return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return all.filter((m) => m.name === filter.name).sort((a, b) => (b.version ?? 0) - (a.version ?? 0) || b.createdAt.localeCompare(a.createdAt));
  }

  async exists(id: string): Promise<boolean> {
    return this.get(id).then(() => true, () => false);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.store.unpublish(id, META);
  }
}
