import type * as tf from '@tensorflow/tfjs';
import { importArtifacts } from '../mtl/serialization.js';
import type { ModelStore } from '../store/model-store.js';
import type { ModelMetadata } from '../store/model-metadata.js';

export interface LoadedModel {
  metadata: ModelMetadata;
  serving: tf.LayersModel;
}

/**
 * Loaded models, most recently used last, at most `capacity` of them. A model is loaded once even
 * when many requests ask for it together; an evicted or deleted model's tensors are disposed.
 */
export class ModelCache {
  private readonly entries = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly store: ModelStore, private readonly capacity: number) {}

  async get(id: string): Promise<LoadedModel> {
    let entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      this.entries.set(id, entry);
      return entry;
    }
    entry = this.load(id);
    this.entries.set(id, entry);
    entry.catch(() => this.entries.get(id) === entry && this.entries.delete(id));
    while (this.entries.size > this.capacity) this.evict(this.entries.keys().next().value as string);
    return entry;
  }

  evict(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.then((m) => m.serving.dispose(), () => undefined);
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.evict(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private async load(id: string): Promise<LoadedModel> {
    const { metadata, artifacts } = await this.store.loadArtifacts(id);
    return { metadata, serving: await importArtifacts(artifacts) };
  }
}
