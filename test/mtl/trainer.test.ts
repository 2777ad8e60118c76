import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../../src/mtl/model-builder.js';
import { maskedLossParts, maskedMean } from '../../src/mtl/losses.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { TrainingStopped, type TrainerCheckpoint } from '../../src/mtl/trainer.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts, importArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { rows, summary } = loadDigits();
const features = PIXELS.map((name) => ({ name }));
const fourTasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'tags', type: 'multilabel' },
  { name: 'value', type: 'regression' },
];

describe('multi-task training on real data (sklearn digits)', () => {
  before(useTestBackend);

  it('learns all four task types far above chance, from one shared trunk', async () => {
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [64] }, training: { epochs: 15, batchSize: 32, learningRate: 0.003 } }, summary);
    const trained = await trainOnRows(spec, rows);
    try {
      const m = trained.result.validationMetrics!;
      assert.equal(trained.rows.validation, Math.floor(rows.length * 0.2));
      assert.ok(m.digit.accuracy! > 0.9, `digit accuracy ${m.digit.accuracy} (chance 0.1)`);
      assert.ok(m.parity.auc! > 0.97, `parity AUC ${m.parity.auc}`);
      assert.ok(m.tags.microF1! > 0.9, `tags micro-F1 ${m.tags.microF1}`);
      assert.ok(m.value.r2! > 0.7, `value R² ${m.value.r2}`);
      const first = trained.result.history[0];
      const last = trained.result.history.at(-1)!;
      assert.ok(last.loss < first.loss / 2, `loss ${first.loss} → ${last.loss}`);
    } finally {
      disposeModel(trained.model);
    }
  });

  it('trains every task when half the rows lack one task’s label (masked, not dropped)', async () => {
    const sparse = rows.map((r, i) => (i % 2 === 0 ? { ...r, digit: null } : r));
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks.slice(0, 2), architecture: { sharedLayers: [64] }, training: { epochs: 12, learningRate: 0.003 } }, summary);
    const trained = await trainOnRows(spec, sparse);
    try {
      const m = trained.result.validationMetrics!;
      const nVal = trained.rows.validation;
      assert.equal(m.parity.count, nVal, 'parity uses every validation row');
      assert.ok(Math.abs(m.digit.count - nVal / 2) < nVal * 0.1, `digit labelled on about half the rows: ${m.digit.count} of ${nVal}`);
      assert.ok(m.digit.accuracy! > 0.85, `digit accuracy ${m.digit.accuracy} with half the labels`);
      assert.ok(m.parity.auc! > 0.95, `parity AUC ${m.parity.auc}`);
    } finally {
      disposeModel(trained.model);
    }
  });

  it('leaks no tensors across epochs or after disposal', async () => {
    const before = tf.memory().numTensors;
    const perEpoch: number[] = [];
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [16] }, training: { epochs: 4, earlyStopping: false } }, summary);
    const trained = await trainOnRows(spec, rows.slice(0, 400), { onEpoch: () => void perEpoch.push(tf.memory().numTensors) });
    assert.equal(new Set(perEpoch).size, 1, `tensor count per epoch: ${perEpoch}`);
    const weights = trained.model.serving.weights.length;
    assert.equal(tf.memory().numTensors, before + weights);
    disposeModel(trained.model);
    assert.equal(tf.memory().numTensors, before);
  });

  it('repeats exactly for the same seed', async () => {
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [16] }, training: { epochs: 2, seed: 7 } }, summary);
    const a = await trainOnRows(spec, rows.slice(0, 300));
    const b = await trainOnRows(spec, rows.slice(0, 300));
    assert.deepEqual(a.result.history.map((h) => h.loss), b.result.history.map((h) => h.loss));
    disposeModel(a.model);
    disposeModel(b.model);
  });

  it('save → load round trip gives the same predictions, all tasks from one call', async () => {
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [32], headLayers: [8] }, training: { epochs: 2 } }, summary);
    const trained = await trainOnRows(spec, rows.slice(0, 500));
    const loaded = await importArtifacts(await exportArtifacts(trained.model.serving));
    const instances = rows.slice(600, 620);
    const original = predictInstances(trained.model.serving, trained.preprocessing, instances);
    const predictCalls: number[] = [];
    const realPredict = loaded.predict.bind(loaded);
    loaded.predict = (x, args) => (predictCalls.push(1), realPredict(x, args));
    const reloaded = predictInstances(loaded, trained.preprocessing, instances);
    assert.deepEqual(reloaded, original);
    assert.equal(predictCalls.length, 1, 'one model.predict call for the whole batch');
    assert.deepEqual(Object.keys(reloaded[0]), ['digit', 'parity', 'tags', 'value']);
    const parity = reloaded[0].parity as { label: string; probabilities: Record<string, number> };
    assert.deepEqual(Object.keys(parity.probabilities).sort(), ['even', 'odd']);
    assert.ok(Math.abs(parity.probabilities.even + parity.probabilities.odd - 1) < 1e-6);
    disposeModel(trained.model);
    loaded.dispose();
  });
});

describe('gradient of a masked loss on a tiny net (hand-computed)', () => {
  before(useTestBackend);

  it('a masked row contributes nothing to the gradient', () => {
    // No trunk, one regression head: pred = x·w + b. L = Σ_m (pred − y)² / Σ m.
    const model = buildModel({
      inputSize: 2,
      architecture: { type: 'hard-sharing', sharedLayers: [], headLayers: [], activation: 'relu' },
      heads: [{ name: 'y', type: 'regression', width: 1 }],
      seed: 1,
    });
    const [kernel, bias] = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
    kernel.assign(tf.tensor2d([[0.5], [-1]]));
    bias.assign(tf.tensor1d([0.25]));
    const x = [[1, 2], [3, 0], [10, 10]];
    const y = [0, 1, 1000];
    const mask = [1, 1, 0];
    const { grads } = tf.variableGrads(() => {
      const out = model.training.apply(tf.tensor2d(x)) as tf.Tensor;
      const { sum, count } = maskedLossParts('regression', out, tf.tensor1d(y), tf.tensor1d(mask), 1);
      return maskedMean(sum, count);
    }, [kernel, bias]);
    // residuals: row0 0.5−2+0.25−0 = −1.25; row1 1.5+0.25−1 = 0.75. dL/dw = (2/2) Σ r·x, dL/db = Σ r.
    const dw = Array.from(grads[kernel.name].dataSync());
    const db = grads[bias.name].dataSync()[0];
    assert.ok(Math.abs(dw[0] - (-1.25 * 1 + 0.75 * 3)) < 1e-5, `dw0 ${dw[0]}`);
    assert.ok(Math.abs(dw[1] - (-1.25 * 2 + 0.75 * 0)) < 1e-5, `dw1 ${dw[1]}`);
    assert.ok(Math.abs(db - (-1.25 + 0.75)) < 1e-5, `db ${db}`);
    tf.dispose(Object.values(grads));
    model.serving.dispose();
  });
});

describe('checkpoints, resume and stopping', () => {
  before(useTestBackend);
  const { rows, summary } = loadDigits();
  const subset = rows.slice(0, 400);

  const regularised: { architecture: TrainingSpec['architecture']; training: TrainingSpec['training'] } = {
    architecture: { type: 'branched', dropout: 0.2, tree: { branches: [{ layers: [16], tasks: ['digit', 'parity', 'tags'] }, { tasks: ['value'] }] } },
    training: { weightDecay: 0.1, linearWarmStart: true },
  };
  for (const strategy of ['static', 'uncertainty', 'gradnorm', 'nash-mtl', 'famo', 'rlw', 'db-mtl', 'static+branched+dropout+decay+warm'] as const) {
    it(`a run resumed from a checkpoint repeats the uninterrupted run exactly (${strategy})`, async () => {
      // Resumed after epoch 3 = 21 Adam steps (7 a epoch): there β₁²² recomputed as a power differs in
      // float32 from the product the optimizer accumulated, so Adam's β powers must be restored as saved.
      // The last case: dropout masks by step, weight decay, and a warm-started linear head kept at its own best epoch.
      const extra = strategy.startsWith('static+') ? regularised : { architecture: { sharedLayers: [16] }, training: {} as TrainingSpec['training'] };
      const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: extra.architecture, lossWeighting: { strategy: strategy.startsWith('static+') ? 'static' : (strategy as 'static') }, training: { epochs: 5, earlyStopping: false, ...extra.training } }, summary);
      const whole = await trainOnRows(spec, subset);
      const checkpoints: TrainerCheckpoint[] = [];
      const first = await trainOnRows(spec, subset, {
        onCheckpoint: async (c) => void checkpoints.push(structuredClone(c)),
        checkpointEvery: 3,
      });
      disposeModel(first.model);
      const atThree = checkpoints.find((c) => c.epoch === 3)!;
      const untouched = structuredClone(atThree);
      const before = tf.memory().numTensors;
      const resumed = await trainOnRows(spec, subset, { resume: atThree });
      // Training must not write into the checkpoint it resumed from (the cpu-based backends keep a
      // typed array handed to tf.tensor as the tensor's own buffer).
      assert.deepEqual(atThree, untouched, 'the checkpoint is unchanged after resuming from it');
      assert.deepEqual(resumed.result.history.map((h) => h.epoch), [1, 2, 3, 4, 5]);
      assert.deepEqual(resumed.result.history.map((h) => h.loss), whole.result.history.map((h) => h.loss));
      assert.deepEqual(resumed.result.history.map((h) => h.weights), whole.result.history.map((h) => h.weights));
      assert.deepEqual(resumed.result.validationMetrics, whole.result.validationMetrics);
      disposeModel(resumed.model);
      disposeModel(whole.model);
      assert.ok(tf.memory().numTensors <= before, 'resuming leaks no tensors');
    });
  }

  it('an aborted signal stops training within a step, frees its tensors and says why', async () => {
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [16] }, training: { epochs: 50 } }, summary);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const epochs: number[] = [];
    await assert.rejects(
      trainOnRows(spec, subset, { signal: controller.signal, onEpoch: (r) => { epochs.push(r.epoch); if (r.epoch === 2) controller.abort('cancelled'); } }),
      (err: unknown) => err instanceof TrainingStopped && err.reason === 'cancelled',
    );
    assert.deepEqual(epochs, [1, 2]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('a signal aborted by a timer mid-epoch stops training within a step (the epoch loop lets events run)', async () => {
    // 400 rows in steps of 2: one epoch is 200 steps, far longer than the 30 ms after which the timer aborts.
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [16] }, training: { epochs: 3, batchSize: 2 } }, summary);
    const controller = new AbortController();
    const epochs: number[] = [];
    const started = { at: 0 };
    await assert.rejects(
      trainOnRows(spec, subset, {
        signal: controller.signal,
        onLog: (message) => {
          if (message === 'preprocessing fitted') {
            started.at = performance.now();
            setTimeout(() => controller.abort('cancelled'), 30);
          }
        },
        onEpoch: (r) => void epochs.push(r.epoch),
      }),
      (err: unknown) => err instanceof TrainingStopped && err.reason === 'cancelled',
    );
    assert.deepEqual(epochs, [], 'no epoch finished: the abort was seen inside the first one');
  });

  it('an aborted signal stops before the next single-task baseline', async () => {
    const spec = resolveSpec({ datasetId: 'digits', features, tasks: fourTasks, architecture: { sharedLayers: [8] }, training: { epochs: 1, baselines: true } }, summary);
    const controller = new AbortController();
    const logs: string[] = [];
    await assert.rejects(
      trainOnRows(spec, subset, {
        signal: controller.signal,
        onLog: (message) => {
          logs.push(message);
          if (message.startsWith('training single-task baseline')) controller.abort('cancelled');
        },
      }),
      (err: unknown) => err instanceof TrainingStopped && err.reason === 'cancelled',
    );
    assert.equal(logs.filter((m) => m.startsWith('training single-task baseline')).length, 1);
  });
});
