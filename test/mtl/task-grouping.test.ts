import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { affinityByName, groupTasks } from '../../src/mtl/task-grouping.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { resolveSpec, type DatasetSummary } from '../../src/mtl/spec-resolution.js';
import type { Row } from '../../src/mtl/values.js';
import { useTestBackend } from '../helpers/backend.js';
import { gaussian } from '../helpers/linear-data.js';

describe('groupTasks: groupings from an affinity matrix', () => {
  const tasks = ['a', 'b', 'c', 'd', 'e'];
  // a, b, c agree with each other; d, e with each other; across the clusters they do not
  const m = [
    [1, 0.6, 0.5, -0.1, 0.0],
    [0.6, 1, 0.4, 0.05, -0.2],
    [0.5, 0.4, 1, 0.1, 0.0],
    [-0.1, 0.05, 0.1, 1, 0.7],
    [0.0, -0.2, 0.0, 0.7, 1],
  ];
  const affinity = affinityByName(tasks, m);

  it('recovers two clusters of related tasks; k = 1 is all together, k ≥ tasks each alone', () => {
    assert.deepEqual(groupTasks(affinity, tasks, 2), [['a', 'b', 'c'], ['d', 'e']]);
    assert.deepEqual(groupTasks(affinity, tasks, 1), [tasks]);
    assert.deepEqual(groupTasks(affinity, tasks, 5), tasks.map((t) => [t]));
    assert.deepEqual(groupTasks(affinity, tasks, 9), tasks.map((t) => [t]));
    // k = 3: the weakest link inside the first cluster (c joins a–b at 0.45 on average) is the last merge undone
    assert.deepEqual(groupTasks(affinity, tasks, 3), [['a', 'b'], ['c'], ['d', 'e']]);
  });

  it('is deterministic: the order of the task list does not change the groups, ties go to the first pair; missing entries count 0', () => {
    const shuffled = ['e', 'c', 'a', 'd', 'b'];
    assert.deepEqual(groupTasks(affinity, shuffled, 2).map((g) => [...g].sort()).sort(), [['a', 'b', 'c'], ['d', 'e']]);
    assert.deepEqual(groupTasks({}, ['x', 'y', 'z'], 2), [['x', 'y'], ['z']]);
    // one-sided entries are read both ways
    assert.deepEqual(groupTasks({ x: { z: 0.9 } }, ['x', 'y', 'z'], 2), [['x', 'z'], ['y']]);
    assert.throws(() => groupTasks(affinity, tasks, 0), RangeError);
  });
});

describe('groupTasks on affinity measured in training', () => {
  before(useTestBackend);

  it('two clusters of tasks sharing a latent factor each are recovered from the affinity of a hard-sharing run', async (t) => {
    // x ∈ R¹⁰; u, v two independent projections; tasks a0..a2 = c·tanh(u) + noise, b0..b2 = c·tanh(v) + noise
    const g = gaussian(3);
    const N = 600;
    const D = 10;
    const a = Array.from({ length: D }, g);
    const b = Array.from({ length: D }, g);
    const rows: Row[] = Array.from({ length: N }, () => {
      const x = Array.from({ length: D }, g);
      const u = x.reduce((s, v, j) => s + v * a[j], 0) / Math.sqrt(D);
      const v = x.reduce((s, w, j) => s + w * b[j], 0) / Math.sqrt(D);
      const r: Row = {};
      x.forEach((w, j) => (r[`x${j}`] = w));
      [1, 0.7, 1.3].forEach((c, i) => (r[`a${i}`] = c * Math.tanh(u) + 0.1 * g()));
      [1, 0.7, 1.3].forEach((c, i) => (r[`b${i}`] = c * Math.tanh(v) + 0.1 * g()));
      return r;
    });
    const names = ['a0', 'b0', 'a1', 'b1', 'a2', 'b2'];
    const columns = Object.keys(rows[0]).map((name) => ({ name, type: 'numeric', missing: 0, distinct: N, distinctCapped: false }));
    const spec = resolveSpec(
      {
        datasetId: 'g',
        features: Array.from({ length: D }, (_, j) => ({ name: `x${j}` })),
        tasks: names.map((name) => ({ name, type: 'regression' as const })),
        architecture: { type: 'hard-sharing', sharedLayers: [32] },
        training: { epochs: 5, earlyStopping: false, learningRate: 0.01 },
      },
      { id: 'g', name: 'g', rows: N, columns } as unknown as DatasetSummary,
    );
    const trained = await trainOnRows(spec, rows);
    try {
      const aff = trained.result.affinity!;
      const groups = groupTasks(affinityByName(aff.tasks, aff.matrix), aff.tasks, 2);
      t.diagnostic(`groups ${JSON.stringify(groups)}; per epoch: ${trained.result.history.map((h) => JSON.stringify(groupTasks(h.affinity!, names, 2))).join(' ')}`);
      assert.deepEqual(groups, [['a0', 'a1', 'a2'], ['b0', 'b1', 'b2']]);
    } finally {
      disposeModel(trained.model);
    }
  });
});
