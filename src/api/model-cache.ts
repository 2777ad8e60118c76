import type * as tf from '@tensorflow/tfjs';
import { forwardPass } from '../mtl/predictor.js';
import { importArtifacts } from '../mtl/serialization.js';
import type { ModelStore } from '../store/model-store.js';
import type { ModelMetadata } from '../store/model-metadata.js';
import { NotFoundError } from '../shared/not-found-error.js';
import { nameOfRef, parseModelRef } from './model-ref.js';
import { PredictBatcher, type ForwardFn } from './predict-batcher.js';
import { HeadBatchers, type HeadBatcher } from './head-batchers.js';

export interface LoadedModel {
  id: string;
  metadata: ModelMetadata;
  serving: tf.LayersModel;
  /** Joins concurrent requests for this model into shared forward passes. */
  batcher: PredictBatcher;
  /** The batcher for a request that asked for some tasks only (task indexes, ascending): see HeadBatchers. */
  batcherFor: (heads: readonly number[]) => HeadBatcher;
  /** Closes every batcher of the model (they answer what they hold). */
  close: () => void;
}

export interface ModelCacheArgs {
  /** Most models kept loaded (least recently used evicted first). */
  capacity: number;
  /** How old a check against the store may be before a request checks again (0: every request). */
  recheckMs: number;
  /** Micro-batching of each model's predictions (see PredictBatcher). */
  maxBatch: number;
  maxDelayMs: number;
}

interface Entry {
  model: Promise<LoadedModel>;
  /** What the store showed when the model was loaded (ModelStore.stamp); undefined while loading. */
  stamp?: string;
  checkedAt: number;
  checking?: Promise<void>;
  evicted: boolean;
}

/** Most names remembered with the id they resolved to (each for at most `recheckMs`). */
const MAX_NAMES = 1024;
/** Most task subsets per loaded model with a sub-model of their own (see HeadBatchers). */
const MAX_TASK_SUBSETS = 16;

export interface ModelCacheObserver {
  /** A lookup found the model loaded (hit) or had to load it (miss). */
  onLookup?: (hit: boolean) => void;
  /** A forward pass of `rows` rows ran. */
  onPass?: (rows: number) => void;
}

/**
 * Loaded models, least recently used first, at most `capacity` of them. A model is loaded once
 * even when many requests ask for it together, and warmed with one dummy forward pass before it
 * serves. An evicted or deleted model's batcher answers what it holds, then its tensors are
 * disposed. The cache checks (at most every `recheckMs`, with one stat) that a model is still
 * stored as it was loaded, so models deleted or replaced by another process are noticed without a
 * restart; names resolve to their latest version with the same freshness.
 */
export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  private observer: ModelCacheObserver = {};
  private readonly names = new Map<string, { id: Promise<string>; at: number }>();
  private readonly disposals = new Set<Promise<void>>();
  private readonly args: ModelCacheArgs;

  constructor(private readonly store: ModelStore, args: Partial<ModelCacheArgs> & { capacity: number }) {
    this.args = { recheckMs: 1000, maxBatch: 256, maxDelayMs: 0, ...args };
  }

  /** The model a request names: an id, a name (its latest version), `name@version` or `name@alias`. NotFoundError when there is none. */
  resolve(ref: string): Promise<LoadedModel> {
    return this.byRef(ref, (id) => this.get(id));
  }

  /** The stored metadata of the model `ref` names, without loading the model. */
  metadataOf(ref: string): Promise<ModelMetadata> {
    return this.byRef(ref, (id) => this.store.get(id));
  }

  /**
   * Forgets what references by `name` resolved to, so the next request asks the store: called when
   * this process moved an alias (or saved a version), so the change is seen at once here; other
   * processes see it within `recheckMs`.
   */
  forgetName(name: string): void {
    for (const ref of [...this.names.keys()]) if (ref === name || nameOfRef(ref) === name) this.names.delete(ref);
  }

  /**
   * A model was deleted or replaced (`id`) or a name's versions or aliases moved (`name`; neither:
   * every name): forgets it here at once and tells the other replicas (`broadcast`, see
   * queue/model-events.ts), whose caches call `apply`.
   */
  changed(change: { id?: string; name?: string }): void {
    this.apply(change);
    this.broadcast?.(change);
  }

  /** What `changed` does here, for a change heard from another process. */
  apply(change: { id?: string; name?: string }): void {
    if (change.id !== undefined) this.evict(change.id);
    if (change.name !== undefined) this.forgetName(change.name);
    else this.names.clear();
  }

  /** Set by the API process to publish changes to the other replicas. */
  broadcast?: (change: { id?: string; name?: string }) => void;

  /** Reports lookups and forward passes (metrics). */
  observe(observer: ModelCacheObserver): void {
    this.observer = observer;
  }

  /** The loaded model with this id. NotFoundError when it is not (or no longer) stored. */
  async get(id: string): Promise<LoadedModel> {
    const cached = this.entries.get(id);
    if (cached && cached.stamp !== undefined && Date.now() - cached.checkedAt >= this.args.recheckMs) await this.revalidate(id, cached);
    let entry = this.entries.get(id);
    this.observer.onLookup?.(entry !== undefined);
    if (entry) {
      this.entries.delete(id);
      this.entries.set(id, entry);
    } else {
      entry = this.insert(id);
    }
    return entry.model;
  }

  evict(id: string): void {
    const entry = this.entries.get(id);
    if (entry) this.drop(id, entry);
  }

  clear(): void {
    for (const [id, entry] of [...this.entries]) this.drop(id, entry);
    this.names.clear();
  }

  /** Resolves once every evicted model has been disposed. */
  async settled(): Promise<void> {
    while (this.disposals.size > 0) await Promise.all([...this.disposals]);
  }

  get size(): number {
    return this.entries.size;
  }

  private insert(id: string): Entry {
    const entry: Entry = { model: Promise.resolve(undefined as never), checkedAt: 0, evicted: false };
    entry.model = this.load(id, entry);
    this.entries.set(id, entry);
    entry.model.catch(() => this.entries.get(id) === entry && this.entries.delete(id));
    while (this.entries.size > this.args.capacity) {
      const [oldest, old] = this.entries.entries().next().value as [string, Entry];
      this.drop(oldest, old);
    }
    return entry;
  }

  private async load(id: string, entry: Entry): Promise<LoadedModel> {
    const stamp = await this.store.stamp(id);
    const { metadata, artifacts } = await this.store.loadArtifacts(id);
    const serving = await importArtifacts(artifacts);
    const { inputSize } = metadata.preprocessing;
    const forward = (x: Float32Array, rows: number) => forwardPass(serving, inputSize, x, rows);
    // Warm-up: the first pass sets up the backend's kernels and buffers; no request should pay for it.
    try {
      forward(new Float32Array(inputSize), 1);
    } catch (err) {
      serving.dispose();
      throw err;
    }
    entry.stamp = stamp;
    entry.checkedAt = Date.now();
    const make = (f: ForwardFn) => new PredictBatcher({ forward: f, inputSize, maxBatch: this.args.maxBatch, maxDelayMs: this.args.maxDelayMs, onPass: (rows) => this.observer.onPass?.(rows) });
    const batcher = make(forward);
    const heads = new HeadBatchers({ serving, inputSize, all: batcher, make, maxSubsets: MAX_TASK_SUBSETS });
    return {
      id,
      metadata,
      serving,
      batcher,
      batcherFor: (h) => heads.for(h),
      close: () => {
        heads.close();
        batcher.close();
      },
    };
  }

  /** One stat, shared by the requests that find the entry due: drops it when the store no longer has it as loaded. */
  private revalidate(id: string, entry: Entry): Promise<void> {
    entry.checking ??= this.store
      .stamp(id)
      .then(
        (stamp) => {
          entry.checkedAt = Date.now();
          if (stamp !== entry.stamp) this.drop(id, entry);
        },
        (err) => {
          if (err instanceof NotFoundError) this.drop(id, entry);
          throw err;
        },
      )
      .finally(() => (entry.checking = undefined));
    return entry.checking;
  }

  /**
   * Forgets the entry; once the requests that already hold the model have joined its batcher (the
   * next turn of the event loop), the batcher answers them and the model's tensors are disposed.
   */
  private drop(id: string, entry: Entry): void {
    if (this.entries.get(id) === entry) this.entries.delete(id);
    if (entry.evicted) return;
    entry.evicted = true;
    const disposal = entry.model.then(
      (model) =>
        new Promise<void>((done) =>
          setImmediate(() => {
            model.close();
            model.serving.dispose();
            done();
          }),
        ),
      () => undefined,
    );
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
  }

  private async byRef<T>(ref: string, use: (id: string) => Promise<T>): Promise<T> {
    const parsed = parseModelRef(ref);
    if ('id' in parsed) return use(parsed.id);
    try {
      return await use(await this.idOfName(ref, parsed));
    } catch (err) {
      // The remembered version was deleted meanwhile: an older one may still be there.
      if (!(err instanceof NotFoundError)) throw err;
      this.names.delete(ref);
      return use(await this.idOfName(ref, parsed));
    }
  }

  private idOfName(ref: string, parsed: { name: string; version?: number; alias?: string }): Promise<string> {
    const known = this.names.get(ref);
    if (known && Date.now() - known.at < this.args.recheckMs) return known.id;
    const id = this.store.resolveRef(parsed);
    this.names.delete(ref);
    if (this.args.recheckMs > 0) {
      this.names.set(ref, { id, at: Date.now() });
      id.catch(() => this.names.get(ref)?.id === id && this.names.delete(ref));
      if (this.names.size > MAX_NAMES) this.names.delete(this.names.keys().next().value as string);
    }
    return id;
  }
}
