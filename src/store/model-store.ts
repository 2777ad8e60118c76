import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelArtifacts } from '../mtl/serialization.js';
import { writeDirAtomically } from './atomic-dir.js';
import { isValidId } from './ids.js';
import { NotFoundError } from './store-errors.js';
import type { ModelMetadata } from './model-metadata.js';

const META = 'metadata.json';
const TOPOLOGY = 'model.json';
const WEIGHTS = 'weights.bin';

/**
 * Trained models on disk, one directory each: `model.json` + `weights.bin` (the standard
 * TensorFlow.js layers format, loadable by tf.loadLayersModel) and `metadata.json` (tasks, label
 * sets, preprocessing, metrics). Written atomically.
 */
export class ModelStore {
  constructor(private readonly dir: string) {}

  async save(metadata: ModelMetadata, artifacts: ModelArtifacts): Promise<void> {
    if (!isValidId(metadata.id)) throw new Error(`invalid model id '${metadata.id}'`);
    await writeDirAtomically(join(this.dir, metadata.id), async (tmp) => {
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'mtl-service',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS}`], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(tmp, TOPOLOGY), JSON.stringify(modelJson));
      await writeFile(join(tmp, WEIGHTS), new Uint8Array(artifacts.weightData));
      await writeFile(join(tmp, META), JSON.stringify(metadata, null, 2));
    });
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

  async list(): Promise<ModelMetadata[]> {
    await mkdir(this.dir, { recursive: true });
    const ids = (await readdir(this.dir)).filter(isValidId);
    const all = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return all.filter((m): m is ModelMetadata => m !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async exists(id: string): Promise<boolean> {
    return this.get(id).then(() => true, () => false);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await rm(join(this.dir, id), { recursive: true, force: true });
  }
}
