import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts, type ModelArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { Row } from '../../src/mtl/values.js';
import { newId } from '../../src/shared/ids.js';
import { modelMetadataOf, type ModelMetadata } from '../../src/store/model-metadata.js';
import { loadDigits, PIXELS } from './digits.js';

export interface DigitsModel {
  metadata: ModelMetadata;
  artifacts: ModelArtifacts;
  /** What the engine predicts for these instances on their own, before the model was saved: the unbatched answer. */
  predictAlone: (instances: Row[]) => ReturnType<typeof predictInstances>;
  dispose: () => void;
}

const digits = loadDigits();

/** The pixel features of digit scans, as predict instances. */
export function digitInstances(from: number, count: number): Row[] {
  return digits.rows.slice(from, from + count).map((r) => Object.fromEntries(PIXELS.map((p) => [p, r[p]])));
}

/** A small digits model (digit, parity, value) made by the engine, ready for ModelStore.save, as the worker would make it. */
export async function trainDigitsModel(args: { name?: string; seed?: number; epochs?: number } = {}): Promise<DigitsModel> {
  const spec = resolveSpec(
    {
      name: args.name ?? 'digits',
      datasetId: 'digits',
      features: PIXELS.map((name) => ({ name })),
      tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'value', type: 'regression' }],
      architecture: { sharedLayers: [32] },
      training: { epochs: args.epochs ?? 4, learningRate: 0.003, seed: args.seed ?? 42 },
    },
    digits.summary,
  );
  const trained = await trainOnRows(spec, digits.rows.slice(200));
  const metadata = modelMetadataOf({ id: newId(), jobId: newId(), spec, trained, backend: 'test' });
  return {
    metadata,
    artifacts: await exportArtifacts(trained.model.serving),
    predictAlone: (instances) => predictInstances(trained.model.serving, trained.preprocessing, instances),
    dispose: () => disposeModel(trained.model),
  };
}

/**
 * Predictions equal up to float32 rounding: labels and keys exactly, numbers within `tolerance`
 * (relative above 1). A BLAS matmul may round one row differently depending on the batch it is in
 * (wasm gives bit-identical results; a BLAS backend may differ in the last bit).
 */
export function assertSamePredictions(actual: unknown, expected: unknown, tolerance = 1e-5, path = ''): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (!(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)))) throw new Error(`${path}: ${actual} ≠ ${expected}`);
    return;
  }
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') {
    if (actual !== expected) throw new Error(`${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
    return;
  }
  const keys = Object.keys(expected);
  if (JSON.stringify(Object.keys(actual)) !== JSON.stringify(keys)) throw new Error(`${path}: keys ${Object.keys(actual)} ≠ ${keys}`);
  for (const k of keys) assertSamePredictions((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tolerance, `${path}/${k}`);
}
