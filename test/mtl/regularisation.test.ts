import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { AdamWOptimizer, createAdam, FusedAdamOptimizer } from '../../src/mtl/fused-adam.js';
import { FUSED_ADAM_KERNEL, hasKernel } from '../../src/mtl/blas/index.js';
import { compileFusedForward } from '../../src/mtl/fused-forward.js';
import { buildModel } from '../../src/mtl/model-builder.js';
import { dropoutLayersOf, SeededDropout } from '../../src/mtl/layers/seeded-dropout.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts, importArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { checkTopology } from '../../src/mtl/topology-check.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';
import { denseKernels } from '../../src/mtl/trainer.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { rows, summary } = loadDigits();
const features = PIXELS.map((name) => ({ name }));
const tasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'value', type: 'regression' },
];

/** One AdamW step on w = [1, −2] (decayed) and b = [3] (not), gradients 0.5 each, lr 0.1, weight decay 0.5. */
function oneStep(optimizer: tf.AdamOptimizer & { decay: unknown }): number[][] {
  const w = tf.variable(tf.tensor1d([1, -2]), true, `w_${Math.random()}`);
  const b = tf.variable(tf.tensor1d([3]), true, `b_${Math.random()}`);
  optimizer.decay = { factor: Math.fround(1 - 0.1 * 0.5), variables: new Set([w.name]) };
  tf.tidy(() => optimizer.applyGradients({ [w.name]: tf.tensor1d([0.5, 0.5]), [b.name]: tf.tensor1d([0.5]) } as unknown as Parameters<typeof optimizer.applyGradients>[0]));
  const out = [Array.from(w.dataSync()), Array.from(b.dataSync())];
  tf.dispose([w, b]);
  optimizer.dispose();
  return out;
}

describe('weight decay (AdamW)', () => {
  before(useTestBackend);

  it('w ← (1 − η·λ)·w, then the Adam step; biases are left alone; the fused kernel and tfjs agree to the bit', () => {
    // Adam's first step moves each weight by η · ĝ/(√v̂ + ε) = 0.1 · 0.5/(0.5 + 1e-7) ≈ 0.1 against the gradient.
    const step = 0.1 * (0.5 / (0.5 + 1e-7));
    const stock = oneStep(new AdamWOptimizer(0.1, 0.9, 0.999));
    assert.ok(Math.abs(stock[0][0] - (0.95 - step)) < 1e-6, `w0 ${stock[0][0]}`);
    assert.ok(Math.abs(stock[0][1] - (-1.9 - step)) < 1e-6, `w1 ${stock[0][1]}`);
    assert.ok(Math.abs(stock[1][0] - (3 - step)) < 1e-6, `b ${stock[1][0]} (not decayed)`);
    if (hasKernel(FUSED_ADAM_KERNEL)) assert.deepEqual(oneStep(new FusedAdamOptimizer(0.1, 0.9, 0.999)), stock);
  });

  it('weightDecay 0 is plain Adam; the trainer decays the Dense kernels only', () => {
    const plain = createAdam(0.01, 0);
    assert.equal((plain as unknown as { decay?: unknown }).decay ?? null, null);
    plain.dispose();
    const model = buildModel({ inputSize: 5, architecture: { type: 'mmoe', experts: 2, expertLayers: [4], towerLayers: [3], activation: 'relu' }, heads: [{ name: 'a', type: 'binary', width: 1 }, { name: 'b', type: 'regression', width: 1 }], seed: 1 });
    const kernels = denseKernels(model.training);
    // 2 experts, 2 gates, 2 towers, 2 logits layers: eight Dense kernels, no bias
    assert.equal(kernels.length, 8);
    assert.ok(kernels.every((n) => n.includes('kernel')), String(kernels));
    disposeModel(model);
  });

  it('shrinks the weights on real data and keeps the model as good (digits, 3 epochs)', async () => {
    const norms: number[] = [];
    const accuracies: number[] = [];
    for (const weightDecay of [0, 1]) {
      const spec = resolveSpec({ datasetId: 'digits', features, tasks, architecture: { type: 'hard-sharing', sharedLayers: [32] }, training: { epochs: 3, batchSize: 32, learningRate: 0.01, weightDecay, earlyStopping: false } }, summary);
      assert.equal(spec.training.weightDecay, weightDecay);
      const trained = await trainOnRows(spec, rows.slice(0, 500));
      norms.push(tf.tidy(() => tf.norm(trained.model.serving.getLayer('shared_0').getWeights()[0]).dataSync()[0]));
      accuracies.push(trained.result.validationMetrics!.digit.accuracy!);
      disposeModel(trained.model);
    }
    assert.ok(norms[1] < norms[0] * 0.9, `kernel norm without decay ${norms[0]}, with ${norms[1]}`);
    assert.ok(accuracies[1] > 0.7, `digit accuracy with weight decay ${accuracies[1]}`);
  });
});

describe('dropout on every architecture', () => {
  before(useTestBackend);

  const architectures: NonNullable<TrainingSpec['architecture']>[] = [
    { type: 'hard-sharing', sharedLayers: [32, 16], headLayers: [8] },
    { type: 'soft-sharing', sharedLayers: [16], headLayers: [8] },
    { type: 'mmoe', experts: 2, expertLayers: [16], towerLayers: [8] },
    { type: 'ple', experts: 1, taskExperts: 1, expertLayers: [16], towerLayers: [8] },
    { type: 'dselect-k', experts: 2, k: 1, expertLayers: [16], towerLayers: [8] },
    { type: 'branched', tree: { layers: [16], tasks: ['digit'], branches: [{ layers: [8], tasks: ['parity'] }, { tasks: ['value'] }] } },
  ];
  /** Hidden Dense layers of each, for the three digits tasks. */
  const hidden = [2 + 3, 3 + 3, 2 + 3, 4 + 3, 2 + 3, 2];

  architectures.forEach((architecture, i) => {
    it(`${architecture.type}: a dropout layer after each hidden Dense layer, in training only; reproducible; save → load`, async () => {
      const before = tf.memory().numTensors;
      const spec = resolveSpec({ datasetId: 'digits', features, tasks, architecture: { ...architecture, dropout: 0.3 }, training: { epochs: 3, batchSize: 32, learningRate: 0.01, earlyStopping: false } }, summary);
      const first = await trainOnRows(spec, rows.slice(0, 400));
      const again = await trainOnRows(spec, rows.slice(0, 400));
      const { model, preprocessing } = first;
      try {
        const layers = dropoutLayersOf(model.serving);
        assert.equal(layers.length, hidden[i], layers.map((l) => l.name).join(', '));
        assert.ok(layers.every((l) => l.name.endsWith('_dropout') && l.rate === 0.3));
        // the fused Dense-only path does not take dropout: the trainer runs tfjs-layers
        assert.equal(compileFusedForward(model.training), null);
        const losses = first.result.history.map((h) => h.loss);
        assert.deepEqual(again.result.history.map((h) => h.loss), losses, 'same seed, same masks, same losses');
        assert.ok(losses.at(-1)! < losses[0], `loss ${losses}`);
        // prediction: no dropout, the same answer every time, and the same after save → load
        const instances = rows.slice(500, 510);
        const p1 = predictInstances(model.serving, preprocessing, instances);
        assert.deepEqual(predictInstances(model.serving, preprocessing, instances), p1);
        const artifacts = await exportArtifacts(model.serving);
        checkTopology(artifacts.modelTopology, artifacts.weightSpecs);
        const loaded = await importArtifacts(artifacts);
        assert.deepEqual(predictInstances(loaded, preprocessing, instances), p1);
        loaded.dispose();
      } finally {
        disposeModel(model);
        disposeModel(again.model);
      }
      assert.equal(tf.memory().numTensors, before, 'every tensor freed');
    });
  });

  it('dropout 0 adds no layer; the masks are fixed per step and scale the kept units by 1/(1 − rate)', () => {
    const model = buildModel({ inputSize: 4, architecture: { type: 'hard-sharing', sharedLayers: [8], headLayers: [], activation: 'relu', dropout: 0 }, heads: [{ name: 'a', type: 'regression', width: 1 }], seed: 1 });
    assert.equal(dropoutLayersOf(model.serving).length, 0);
    disposeModel(model);

    const layer = new SeededDropout({ rate: 0.25, seed: 7, name: 'probe_dropout' });
    tf.tidy(() => {
      const x = tf.ones([200, 50]);
      const values = (t: tf.Tensor) => Array.from(t.dataSync());
      layer.setStep(1, 0);
      const a = values(layer.apply(x, { training: true }) as tf.Tensor);
      const b = values(layer.apply(x, { training: true }) as tf.Tensor);
      layer.setStep(1, 1);
      const c = values(layer.apply(x, { training: true }) as tf.Tensor);
      assert.deepEqual(a, b, 'one step, one mask');
      assert.notDeepEqual(a, c, 'a new step, a new mask');
      assert.ok(a.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
      const dropped = a.filter((v) => v === 0).length / a.length;
      assert.ok(Math.abs(dropped - 0.25) < 0.02, `dropped ${dropped}`);
      assert.deepEqual(values(layer.apply(x) as tf.Tensor), values(x), 'no dropout outside training');
    });
  });
});
