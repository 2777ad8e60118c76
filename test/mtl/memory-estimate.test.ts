import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ColumnInfo } from '../../src/mtl/column-inference.js';
import { estimateTrainingMemory } from '../../src/mtl/memory-estimate.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';

const MiB = 2 ** 20;
const columns = [
  ...Array.from({ length: 784 }, (_, i) => ({ name: `p${i}`, type: 'numeric', missing: 0, distinct: 256 })),
  { name: 'digit', type: 'numeric', missing: 0, distinct: 10 },
] as ColumnInfo[];

describe('training memory estimate', () => {
  it('counts the float32 encoding, not the rows as objects: MNIST-sized data fits a default worker', () => {
    const at = (rows: number) => {
      const spec = resolveSpec({ datasetId: 'd', tasks: [{ name: 'digit', type: 'classification' }], architecture: { sharedLayers: [256, 128] } }, { id: 'd', name: 'd', rows, columns });
      return estimateTrainingMemory(spec, columns, rows);
    };
    const big = at(100_000);
    const copy = (100_000 * 784 * 4) / MiB; // one float32 copy: 299 MiB (bench:memory peaks at 529 MiB RSS)
    assert.ok(big.bytes / MiB > copy, `${big.bytes / MiB} MiB`);
    assert.ok(big.bytes / MiB < 4 * copy, `${big.bytes / MiB} MiB`);
    assert.ok(big.bytes / MiB < 8192, 'under the default WORKER_MEMORY_MB');
    // Twice the rows: the encoding doubles, the rest stays.
    const growth = at(200_000).bytes - big.bytes;
    assert.ok(Math.abs(growth - big.parts.encoded) < 0.01 * big.parts.encoded);
  });

  it('counts every float32 copy of the parameters at the peak, as measured (bench/memory-estimate.ts)', () => {
    const pets = [
      { name: 'x', type: 'numeric', missing: 0, distinct: 6 },
      { name: 'y', type: 'numeric', missing: 0, distinct: 6 },
      { name: 'colour', type: 'categorical', missing: 0, distinct: 3 },
      { name: 'animal', type: 'categorical', missing: 0, distinct: 2 },
      { name: 'tags', type: 'multilabel', missing: 0, distinct: 5 },
      { name: 'weight', type: 'numeric', missing: 0, distinct: 6 },
    ] as ColumnInfo[];
    const at = (sharedLayers: number[], tasks: { name: string; type: 'classification' | 'regression' }[], training: { affinity?: boolean } = {}) => {
      const spec = resolveSpec({ datasetId: 'd', tasks, architecture: { sharedLayers }, training }, { id: 'd', name: 'd', rows: 6, columns: pets });
      return estimateTrainingMemory(spec, pets, 6).bytes / 2 ** 30;
    };
    const two = [{ name: 'animal', type: 'classification' as const }, { name: 'weight', type: 'regression' as const }];
    const layers = (n: number) => Array.from({ length: n }, () => 4096);
    // Peak RSS of the worker's path (train 2 epochs with checkpoints, export, save; blas backend):
    // 8 × 4096 with task affinity: 6.7 GiB; 4 × 4096 with affinity: 2.95 GiB; without: 1.64 GiB.
    for (const [estimate, measured] of [
      [at(layers(8), two), 6.7],
      [at(layers(4), two), 2.95],
      [at(layers(4), two, { affinity: false }), 1.64],
    ]) {
      assert.ok(estimate >= measured, `estimate ${estimate.toFixed(2)} GiB < measured ${measured} GiB`);
      assert.ok(estimate <= 1.3 * measured, `estimate ${estimate.toFixed(2)} GiB is far above the measured ${measured} GiB`);
    }
    // One task: no per-task gradients (nothing to compare), as without affinity.
    assert.ok(Math.abs(at(layers(4), [two[0]]) - at(layers(4), two, { affinity: false })) < 0.01);
  });
});

