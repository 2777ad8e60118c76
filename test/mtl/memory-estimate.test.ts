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
});
