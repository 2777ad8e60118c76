import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../../src/mtl/model-builder.js';
import { trainMultiTask } from '../../src/mtl/trainer.js';
import { suggestGroups } from '../../src/mtl/task-affinity.js';
import { compareWithBaselines } from '../../src/mtl/baselines.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { DEFAULT_TRAINING } from '../../src/mtl/spec.js';
import type { Preprocessing } from '../../src/mtl/preprocessing.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

/**
 * Trunk h = relu(x·[1, 1]) (both units equal), heads y = h·[1, −1] (so predictions start at 0):
 * the gradient of task A on the trunk is ∝ −y·[1, −1]·x. A task with the same targets has the same
 * gradient (cos = 1); a task with the opposite targets the opposite one (cos = −1).
 */
async function affinityOf(targetsB: (y: number) => number): Promise<number> {
  const heads = [{ name: 'a', type: 'regression' as const, width: 1 }, { name: 'b', type: 'regression' as const, width: 1 }];
  const model = buildModel({ inputSize: 1, architecture: { type: 'hard-sharing', sharedLayers: [2], headLayers: [], activation: 'relu' }, heads, seed: 3 });
  const set = (layer: string, kernel: number[][], bias: number[]) => {
    const [k, b] = model.serving.getLayer(layer).trainableWeights.map((w) => w.read() as tf.Variable);
    k.assign(tf.tensor2d(kernel));
    b.assign(tf.tensor1d(bias));
  };
  set('shared_0', [[1, 1]], [0, 0]);
  set('a_logits', [[1], [-1]], [0]);
  set('b_logits', [[1], [-1]], [0]);
  const x = [1, 2, 3, 4];
  const y = [1, -2, 0.5, 3];
  const labels = (ys: number[]) => ({ task: '', type: 'regression' as const, values: Float32Array.from(ys), mask: Float32Array.from(ys.map(() => 1)), width: 1 });
  const split = { x: Float32Array.from(x), rows: 4, labels: [{ ...labels(y), task: 'a' }, { ...labels(y.map(targetsB)), task: 'b' }] };
  const prep: Preprocessing = { features: [{ name: 'x', type: 'numeric', mean: 0, std: 1 }], tasks: [{ task: 'a', column: 'a', type: 'regression', mean: 0, std: 1 }, { task: 'b', column: 'b', type: 'regression', mean: 0, std: 1 }], inputSize: 1 };
  // one step over all rows: affinity is measured before the step's update
  const result = await trainMultiTask({ model, prep, train: split, validation: null, weights: [1, 1], lossWeighting: { strategy: 'static' }, options: { ...DEFAULT_TRAINING, epochs: 1, batchSize: 4, learningRate: 1e-6, affinity: true } });
  model.serving.dispose();
  assert.equal(result.affinity!.samples, 1);
  // the epoch's own matrix, in the history and in the result, is the one step's
  assert.deepEqual(result.history[0].affinity, { a: { a: 1, b: result.affinity!.matrix[0][1] }, b: { a: result.affinity!.matrix[1][0], b: 1 } });
  assert.deepEqual(result.affinity!.perEpoch, [{ epoch: 1, matrix: result.affinity!.matrix }]);
  return result.affinity!.matrix[0][1];
}

describe('task affinity (constructed cases)', () => {
  before(useTestBackend);

  it('two identical tasks are affine (cos = 1)', async () => {
    assert.ok(Math.abs((await affinityOf((y) => y)) - 1) < 1e-5);
  });

  it('two tasks with opposite targets are not (cos = −1)', async () => {
    assert.ok(Math.abs((await affinityOf((y) => -y)) + 1) < 1e-5);
  });

  it('groups tasks whose mean affinity is above the threshold', () => {
    const m = [
      [1, 0.8, -0.5, 0.0],
      [0.8, 1, -0.4, 0.05],
      [-0.5, -0.4, 1, 0.3],
      [0.0, 0.05, 0.3, 1],
    ];
    assert.deepEqual(suggestGroups(['a', 'b', 'c', 'd'], m), [['a', 'b'], ['c', 'd']]);
    assert.deepEqual(suggestGroups(['a', 'b'], [[1, -1], [-1, 1]]), [['a'], ['b']]);
  });
});

describe('single-task baselines, Δm and the monitor', () => {
  before(useTestBackend);
  const { rows, summary } = loadDigits();

  it('Δm is the mean signed relative gain (hand-computed)', () => {
    const report = compareWithBaselines(
      { a: { metric: 0.9, metricName: 'accuracy', count: 1 }, r: { metric: 1.5, metricName: 'rmse', count: 1 } },
      { a: { metric: 0.8, metricName: 'accuracy', count: 1 }, r: { metric: 2, metricName: 'rmse', count: 1 } },
    );
    assert.ok(Math.abs(report.tasks.a.gain! - 0.125) < 1e-12);
    assert.ok(Math.abs(report.tasks.r.gain! - 0.25) < 1e-12, 'lower rmse is a gain');
    assert.ok(Math.abs(report.deltaM! - 0.1875) < 1e-12);
  });

  it('training.baselines trains one model per task and reports Δm; affinity is measured on real data', async () => {
    const spec = resolveSpec({ datasetId: 'd', features: PIXELS.map((name) => ({ name })), tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }], architecture: { sharedLayers: [32] }, training: { epochs: 3, baselines: true, learningRate: 0.005 } }, summary);
    const trained = await trainOnRows(spec, rows.slice(0, 500));
    const b = trained.baselines!;
    assert.deepEqual(Object.keys(b.tasks), ['digit', 'parity']);
    assert.equal(typeof b.tasks.digit.stl, 'number');
    assert.equal(typeof b.deltaM, 'number');
    const aff = trained.result.affinity!;
    assert.deepEqual(aff.tasks, ['digit', 'parity']);
    assert.ok(aff.samples >= 3);
    assert.ok(aff.matrix[0][1] > -1 && aff.matrix[0][1] < 1);
    assert.equal(aff.matrix[0][1], aff.matrix[1][0]);
    // per epoch: in the history and the result; every epoch measured as many steps, so their mean is the overall matrix
    const perEpoch = trained.result.history.map((h) => h.affinity!.digit.parity);
    assert.equal(perEpoch.length, 3);
    assert.deepEqual(aff.perEpoch!.map((e) => e.epoch), [1, 2, 3]);
    assert.deepEqual(aff.perEpoch!.map((e) => e.matrix[0][1]), perEpoch);
    assert.ok(Math.abs(perEpoch.reduce((a, b) => a + b, 0) / 3 - aff.matrix[0][1]) < 1e-9, `epochs ${perEpoch}, overall ${aff.matrix[0][1]}`);
    disposeModel(trained.model);
  });

  it('monitor {task} keeps the epoch with that task\'s best validation metric', async () => {
    const spec = resolveSpec({ datasetId: 'd', features: PIXELS.map((name) => ({ name })), tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }], architecture: { sharedLayers: [16] }, training: { epochs: 5, earlyStopping: false, monitor: { task: 'digit' }, affinity: false } }, summary);
    const trained = await trainOnRows(spec, rows.slice(0, 400));
    const accs = trained.result.history.map((h) => h.tasks.digit.valMetric!);
    const best = accs.indexOf(Math.max(...accs)) + 1;
    assert.equal(trained.result.bestEpoch, best);
    assert.equal(trained.result.validationMetrics!.digit.accuracy, accs[best - 1]);
    disposeModel(trained.model);
  });
});
