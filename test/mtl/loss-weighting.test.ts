import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createLossWeighting } from '../../src/mtl/loss-weighting/index.js';
import { DynamicWeightAverage } from '../../src/mtl/loss-weighting/dwa.js';
import { GradNormWeights } from '../../src/mtl/loss-weighting/gradnorm.js';
import { projectConflictingGradients } from '../../src/mtl/loss-weighting/pcgrad.js';
import { UncertaintyWeighting } from '../../src/mtl/loss-weighting/uncertainty.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { LOSS_WEIGHTING_STRATEGIES, type TrainingSpec } from '../../src/mtl/spec.js';
import { createRng } from '../../src/mtl/rng.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const close = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

describe('loss weighting math (hand-computed, two tasks, one step)', () => {
  before(useTestBackend);

  it('static: Σ w_t L_t', () => {
    const w = createLossWeighting({ strategy: 'static' }, { weights: [1, 0.5], types: ['binary', 'regression'], learningRate: 0.001 });
    close(tf.tidy(() => w.combine([tf.scalar(2), tf.scalar(4)], createRng(1)).dataSync()[0]), 4);
    assert.deepEqual(w.currentWeights(), [1, 0.5]);
  });

  it('dwa: 1 for two epochs, then T·softmax(ratio of last two losses / temperature)', () => {
    const w = new DynamicWeightAverage([1, 1], 2);
    w.startEpoch([[1, 2]]);
    assert.deepEqual(w.currentWeights(), [1, 1]);
    w.startEpoch([[1, 2], [0.5, 2]]); // ratios 0.5 and 1: the first task is learning faster, so it weighs less
    const e1 = Math.exp(0.25);
    const e2 = Math.exp(0.5);
    close(w.currentWeights()[0], (2 * e1) / (e1 + e2));
    close(w.currentWeights()[1], (2 * e2) / (e1 + e2));
  });

  it('uncertainty: e^(−s)·L + s/2 (classification), 0.5·e^(−s)·L + s/2 (regression), and its gradient', () => {
    const w = new UncertaintyWeighting([1, 1], ['classification', 'regression']);
    w.variables[1].assign(tf.scalar(Math.log(2)));
    const { value, grads } = tf.variableGrads(() => w.combine([tf.scalar(2), tf.scalar(4)]), w.variables);
    close(value.dataSync()[0], 2 + 0.5 * 0.5 * 4 + 0.5 * Math.log(2));
    close(grads[w.variables[0].name].dataSync()[0], -2 + 0.5);
    close(grads[w.variables[1].name].dataSync()[0], -0.5 * 0.5 * 4 + 0.5);
    assert.deepEqual(w.currentWeights().map((x) => +x.toFixed(6)), [1, 0.25]);
    tf.dispose([value, ...Object.values(grads)]);
    w.dispose();
  });

  it('gradnorm: moves weight toward the task with the smaller gradient norm, keeps Σw', () => {
    const w = new GradNormWeights([1, 1], 1.5, 0.1);
    // equal loss ratios; norms 1 and 3 → weighted [1, 3], target mean = 2 for both;
    // d|·|/dw = [−1·1, +1·3]; Adam's first step moves each weight by lr·sign.
    const gradLoss = w.update([1, 1], [1, 3]);
    close(gradLoss, 2);
    const [a, b] = w.currentWeights();
    close(a, 1.1);
    close(b, 0.9);
  });

  it('pcgrad: projects a conflicting gradient onto the other\'s normal plane', () => {
    const sum = (g: number[][]) => tf.tidy(() => Array.from(projectConflictingGradients(g.map((x) => tf.tensor1d(x)), createRng(1)).dataSync()));
    // g1·g2 = −1 < 0: g1' = g1 + ½·g2 = [½, ½]; g2' = g2 + g1 = [0, 1]
    assert.deepEqual(sum([[1, 0], [-1, 1]]), [0.5, 1.5]);
    // no conflict: plain sum
    assert.deepEqual(sum([[1, 0], [1, 1]]), [2, 1]);
  });
});

describe('every strategy trains on real data and records its weights per epoch', () => {
  before(useTestBackend);
  const { rows, summary } = loadDigits();
  const subset = rows.slice(0, 600);
  const tasks: TrainingSpec['tasks'] = [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'value', type: 'regression' }];

  for (const strategy of LOSS_WEIGHTING_STRATEGIES) {
    it(strategy, async () => {
      const spec = resolveSpec({ datasetId: 'd', features: PIXELS.map((name) => ({ name })), tasks, architecture: { sharedLayers: [32] }, lossWeighting: { strategy }, training: { epochs: 4, learningRate: 0.005, earlyStopping: false } }, summary);
      const before = tf.memory().numTensors;
      const trained = await trainOnRows(spec, subset);
      const h = trained.result.history;
      assert.ok(h.at(-1)!.tasks.digit.valLoss! < h[0].tasks.digit.valLoss!, `${strategy}: digit val loss ${h[0].tasks.digit.valLoss} → ${h.at(-1)!.tasks.digit.valLoss}`);
      assert.ok(trained.result.validationMetrics!.digit.accuracy! > 0.5, `${strategy}: digit accuracy ${trained.result.validationMetrics!.digit.accuracy}`);
      for (const e of h) assert.deepEqual(Object.keys(e.weights), ['digit', 'parity', 'value']);
      if (strategy === 'static' || strategy === 'pcgrad') assert.deepEqual(h.at(-1)!.weights, { digit: 1, parity: 1, value: 1 });
      else assert.notDeepEqual(h.at(-1)!.weights, h[0].weights, `${strategy} weights moved`);
      disposeModel(trained.model);
      assert.equal(tf.memory().numTensors, before, `${strategy} leaks no tensors`);
    });
  }
});
