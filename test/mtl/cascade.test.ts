import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, trainingViewOf, type HeadSpec } from '../../src/mtl/model-builder.js';
import { cascadeOrder } from '../../src/mtl/cascade.js';
import { jointLogit } from '../../src/mtl/layers/joint-logit.js';
import { aitAttention } from '../../src/mtl/layers/ait-attention.js';
import { perRowLoss } from '../../src/mtl/losses.js';
import { auc } from '../../src/mtl/metrics.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { decodePredictions, predictInstances, type TaskPrediction } from '../../src/mtl/predictor.js';
import type { Preprocessing } from '../../src/mtl/preprocessing.js';
import { exportArtifacts, importArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { ResolvedArchitecture, TrainingSpec } from '../../src/mtl/spec.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { CLICK_FEATURES, clickConversionRows } from '../helpers/click-conversion.js';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const hard: ResolvedArchitecture = { type: 'hard-sharing', sharedLayers: [6], headLayers: [4], activation: 'relu' };

function cascadeHeads(mode: 'esmm' | 'aitm', calibration = 0.6): HeadSpec[] {
  // The child first: the builder orders heads by their dependencies, the outputs stay in task order.
  return [
    { name: 'buy', type: 'binary', width: 1, cascade: mode === 'esmm' ? { dependsOn: 'click', mode } : { dependsOn: 'click', mode, calibration } },
    { name: 'click', type: 'binary', width: 1 },
  ];
}

function values(t: tf.Tensor | tf.Tensor[]): number[][] {
  return (Array.isArray(t) ? t : [t]).map((o) => Array.from(o.dataSync()));
}

describe('cascade layers (hand-computed, float64 references)', () => {
  before(useTestBackend);

  it('ESMM joint logit: σ(joint) = σ(a)·σ(b), precise for tiny probabilities; its binary loss is the CTCVR log loss with the right gradients', () => {
    const before = tf.memory().numTensors;
    const pairs = [[0, 0], [2, -1], [-3, 4], [-20, -5], [-40, -35], [12, 15], [30, -2]];
    const a = tf.tensor1d(pairs.map((p) => p[0]));
    const b = tf.tensor1d(pairs.map((p) => p[1]));
    const got = tf.tidy(() => Array.from(jointLogit(a, b).dataSync()));
    pairs.forEach(([x, y], i) => {
      const logJ = -softplus(-x) - softplus(-y);
      const want = logJ - Math.log(-Math.expm1(logJ));
      assert.ok(Math.abs(got[i] - want) <= 1e-5 * Math.max(1, Math.abs(want)), `(${x}, ${y}): ${got[i]} vs ${want}`);
    });
    // p(A and B) ≈ e^−75 still ranks and trains: the logit is log p, not −∞.
    assert.ok(Math.abs(got[4] + 75) < 1e-3, `${got[4]}`);
    for (const label of [0, 1]) {
      const y = tf.fill([pairs.length], label);
      const { grads, value } = tf.tidy(() => {
        const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(perRowLoss('binary', jointLogit(x, z), y, 1)));
        const [ga, gb] = g([a, b]);
        return { grads: [Array.from(ga.dataSync()), Array.from(gb.dataSync())], value: Array.from(perRowLoss('binary', jointLogit(a, b), y, 1).dataSync()) };
      });
      pairs.forEach(([x, z], i) => {
        const J = sigmoid(x) * sigmoid(z);
        const loss = label ? -Math.log(J) : -Math.log1p(-J);
        // dL/dJ · dJ/dx with dJ/dx = J·(1 − σ(x)).
        const dJ = label ? -1 / J : 1 / (1 - J);
        const want = [dJ * J * (1 - sigmoid(x)), dJ * J * (1 - sigmoid(z))];
        assert.ok(Math.abs(value[i] - loss) <= 1e-4 * Math.max(1, loss), `loss y=${label} (${x}, ${z}): ${value[i]} vs ${loss}`);
        for (const k of [0, 1]) assert.ok(Math.abs(grads[k][i] - want[k]) <= 1e-4 * Math.max(1, Math.abs(want[k])), `grad ${k} y=${label} (${x}, ${z}): ${grads[k][i]} vs ${want[k]}`);
      });
      y.dispose();
    }
    tf.dispose([a, b]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('AIT attention: softmax of ⟨u·W_q, u·W_k⟩/√K over {q, p}, then the weighted values', () => {
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const q = tf.tensor2d([[2, 0], [1, 0]]);
      const p = tf.tensor2d([[0, 1], [0, 1]]);
      const eye = tf.eye(2) as tf.Tensor2D;
      const wv = tf.tensor2d([[1, 2], [3, 4]]);
      return aitAttention(q, p, eye, eye, wv).arraySync();
    });
    // Row 0: scores 4/√2 and 1/√2; w_q = σ(3/√2). q·W_v = [2, 4], p·W_v = [3, 4].
    const wq = sigmoid(3 / Math.SQRT2);
    const want0 = [wq * 2 + (1 - wq) * 3, 4];
    // Row 1: equal scores 1/√2: halves of [1, 2] and [3, 4].
    const want1 = [2, 3];
    [want0, want1].forEach((want, r) => want.forEach((v, j) => assert.ok(Math.abs(out[r][j] - v) < 1e-5, `row ${r}: ${out[r]} vs ${want}`)));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('cascaded heads in the model graph', () => {
  before(useTestBackend);

  for (const mode of ['esmm', 'aitm'] as const) {
    it(`${mode}: outputs [buy, click, buy_conditional]; buy = p(click and buy), conditional = p(buy | click); training outputs are their logits; save → load keeps everything`, async () => {
      const before = tf.memory().numTensors;
      const model = buildModel({ inputSize: 3, architecture: hard, heads: cascadeHeads(mode), seed: 4 });
      assert.deepEqual(model.serving.outputNames, ['buy', 'click', 'buy_conditional']);
      assert.deepEqual(model.training.outputNames, [mode === 'esmm' ? 'buy_joint_logits' : 'buy_logits', 'click_logits']);
      const layers = model.serving.layers.map((l) => l.name);
      if (mode === 'aitm') assert.ok(layers.includes('buy_transfer') && layers.includes('buy_attention'));
      const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2], [0, 0, 0], [3, -2, 1]]);
      const [buy, click, conditional] = tf.tidy(() => values(model.serving.predict(x) as tf.Tensor[]));
      const [buyLogit, clickLogit] = tf.tidy(() => values(model.training.predict(x) as tf.Tensor[]));
      for (let r = 0; r < 4; r++) {
        assert.ok(Math.abs(buy[r] - sigmoid(buyLogit[r])) < 1e-6);
        assert.ok(Math.abs(click[r] - sigmoid(clickLogit[r])) < 1e-6);
        // esmm: joint = p(click)·p(buy | click); aitm: conditional = min(joint / p(click), 1).
        const expected = mode === 'esmm' ? buy[r] / click[r] : Math.min(buy[r] / click[r], 1);
        assert.ok(Math.abs(conditional[r] - expected) < 1e-5, `row ${r}: conditional ${conditional[r]}, joint ${buy[r]}, click ${click[r]}`);
      }
      const loaded = await importArtifacts(await exportArtifacts(model.serving));
      const view = trainingViewOf(loaded, model.heads, hard);
      assert.deepEqual(tf.tidy(() => values(loaded.predict(x) as tf.Tensor[])), [buy, click, conditional]);
      assert.deepEqual(tf.tidy(() => values(view.training.predict(x) as tf.Tensor[])), [buyLogit, clickLogit]);
      assert.equal(view.regularization !== undefined, mode === 'aitm', 'the calibrator comes back with a loaded aitm model');
      loaded.dispose();
      x.dispose();
      disposeModel(model);
      assert.equal(tf.memory().numTensors, before);
    });
  }

  it('AITM calibrator: calibration · mean(max(p(task) − p(parent), 0)) over the batch', () => {
    const before = tf.memory().numTensors;
    const model = buildModel({ inputSize: 2, architecture: hard, heads: cascadeHeads('aitm', 0.5), seed: 1 });
    const logits = [tf.tensor1d([2, -1, 0, 3]), tf.tensor1d([0, 1, 0, -3])]; // [buy, click], in head order
    const penalty = tf.tidy(() => model.regularization!({ x: tf.zeros([4, 2]), logits }).dataSync()[0]);
    const want = 0.5 * ([0, 1, 2, 3].map((r) => Math.max(sigmoid([2, -1, 0, 3][r]) - sigmoid([0, 1, 0, -3][r]), 0)).reduce((s, v) => s + v) / 4);
    assert.ok(Math.abs(penalty - want) < 1e-6, `${penalty} vs ${want}`);
    tf.dispose(logits);
    disposeModel(model);
    assert.equal(tf.memory().numTensors, before);
  });

  it('chains build parents first, whatever the task order; a cycle or unknown parent is refused', () => {
    const heads: HeadSpec[] = [
      { name: 'pay', type: 'binary', width: 1, cascade: { dependsOn: 'cart', mode: 'esmm' } },
      { name: 'cart', type: 'binary', width: 1, cascade: { dependsOn: 'click', mode: 'aitm', calibration: 0.6 } },
      { name: 'click', type: 'binary', width: 1 },
    ];
    assert.deepEqual(cascadeOrder(heads), [2, 1, 0]);
    const before = tf.memory().numTensors;
    const model = buildModel({ inputSize: 2, architecture: hard, heads, seed: 2 });
    assert.deepEqual(model.serving.outputNames, ['pay', 'cart', 'click', 'pay_conditional', 'cart_conditional']);
    const x = tf.tensor2d([[0.3, -1], [2, 1]]);
    const [pay, cart] = tf.tidy(() => values(model.serving.predict(x) as tf.Tensor[]));
    for (let r = 0; r < 2; r++) assert.ok(pay[r] <= cart[r] + 1e-7, 'p(click, cart, pay) ≤ p(click, cart)');
    x.dispose();
    disposeModel(model);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => cascadeOrder([{ name: 'a', type: 'binary', width: 1, cascade: { dependsOn: 'b', mode: 'esmm' } }, { name: 'b', type: 'binary', width: 1, cascade: { dependsOn: 'a', mode: 'esmm' } }]), /depends on itself/);
    assert.throws(() => cascadeOrder([{ name: 'a', type: 'binary', width: 1, cascade: { dependsOn: 'z', mode: 'esmm' } }]), /not a task/);
  });
});

describe('predictions of cascaded tasks', () => {
  it('label/probabilities are the joint p(parent and task); conditional {given, label, probabilities} is p(task | parent)', () => {
    const prep: Preprocessing = {
      features: [],
      inputSize: 0,
      tasks: [
        { task: 'click', column: 'click', type: 'binary', labels: [0, 1] },
        { task: 'buy', column: 'buy', type: 'binary', labels: ['no', 'yes'], dependsOn: 'click' },
        { task: 'size', column: 'size', type: 'regression', mean: 10, std: 2 },
      ],
    };
    // Head outputs in task order, then the conditional of buy.
    const outputs = [Float32Array.from([0.5, 0.1]), Float32Array.from([0.25, 0.05]), Float32Array.from([1, -1]), Float32Array.from([0.5, 0.5])];
    const [first, second] = decodePredictions(prep, outputs, 2);
    assert.deepEqual(first.click, { label: 1, probabilities: { '0': 0.5, '1': 0.5 } });
    assert.deepEqual(first.buy, { label: 'no', probabilities: { no: 0.75, yes: 0.25 }, conditional: { given: 'click', label: 'yes', probabilities: { no: 0.5, yes: 0.5 } } });
    assert.deepEqual(first.size, { value: 12 });
    assert.equal((second.buy as Extract<TaskPrediction, { label: unknown }>).conditional!.label, 'yes');
    // Without cascades nothing changes: no conditional key.
    const plain = decodePredictions({ ...prep, tasks: [prep.tasks[0], { task: 'buy', column: 'buy', type: 'binary', labels: ['no', 'yes'] }, prep.tasks[2]] }, outputs.slice(0, 3), 1);
    assert.deepEqual(Object.keys(plain[0].buy), ['label', 'probabilities']);
  });
});

describe('click → conversion: ESMM and AITM against a conversion task trained on clicked rows only (synthetic impressions, held-out rows)', () => {
  before(useTestBackend);

  it('the conversion probability over all held-out impressions ranks conversions better than the clicked-only model\'s', async (t) => {
    const train = clickConversionRows({ rows: 30_000, seed: 1 });
    const heldOut = clickConversionRows({ rows: 20_000, seed: 1001 });
    const features = [...CLICK_FEATURES.map((name) => ({ name })), { name: 'device' }];
    const labels = heldOut.rows.map((r) => r.conversion);
    const all = new Float32Array(heldOut.rows.length).fill(1);
    const clicked = Float32Array.from(heldOut.rows, (r) => r.click);
    const oracle = auc(Array.from(heldOut.truth.click, (c, r) => c * heldOut.truth.conversionGivenClick[r]), labels, all)!;
    const conversionTask: Record<string, TrainingSpec['tasks'][number]> = {
      'clicked-only': { name: 'conversion', column: 'conversion_clicked', type: 'binary' },
      esmm: { name: 'conversion', type: 'binary', dependsOn: 'click', mode: 'esmm' },
      aitm: { name: 'conversion', type: 'binary', dependsOn: 'click', mode: 'aitm' },
    };
    const results: Record<string, { all: number; product: number; conditionalOnClicked: number }> = {};
    for (const [variant, conversion] of Object.entries(conversionTask)) {
      const spec = resolveSpec(
        {
          datasetId: 'clicks',
          features,
          tasks: [{ name: 'click', type: 'binary' }, conversion],
          architecture: { type: 'hard-sharing', sharedLayers: [32], headLayers: [16] },
          training: { epochs: 8, batchSize: 256, learningRate: 0.003, earlyStopping: false, affinity: false },
        },
        train.summary,
      );
      const before = tf.memory().numTensors;
      const perEpoch: number[] = [];
      const trained = await trainOnRows(spec, train.rows, { onEpoch: () => void perEpoch.push(tf.memory().numTensors) });
      assert.equal(new Set(perEpoch).size, 1, `${variant}: tensor count per epoch ${perEpoch}`);
      const predictions = predictInstances(trained.model.serving, trained.preprocessing, heldOut.rows);
      disposeModel(trained.model);
      assert.equal(tf.memory().numTensors, before, `${variant}: every tensor freed`);
      const probability = (p: TaskPrediction | undefined) => (p as { probabilities: Record<string, number> }).probabilities['1'];
      const pClick = predictions.map((p) => probability(p.click));
      // The clicked-only head predicts p(conversion | click) and has no conditional of its own.
      const pConversion = predictions.map((p) => probability(p.conversion));
      const pGivenClick = predictions.map((p) => (p.conversion as { conditional?: { probabilities: Record<string, number> } }).conditional?.probabilities['1'] ?? probability(p.conversion));
      results[variant] = {
        all: auc(pConversion, labels, all)!,
        product: auc(pClick.map((c, r) => c * pGivenClick[r]), labels, all)!,
        conditionalOnClicked: auc(pGivenClick, labels, clicked)!,
      };
    }
    const fmt = (v: number) => v.toFixed(4);
    t.diagnostic(`${heldOut.rows.filter((r) => r.conversion).length} conversions in ${heldOut.rows.length} held-out impressions; oracle AUC ${fmt(oracle)}`);
    for (const [variant, r] of Object.entries(results))
      t.diagnostic(`${variant}: conversion AUC on all impressions ${fmt(r.all)}; p(click)·p(conversion | click) ${fmt(r.product)}; p(conversion | click) on clicked rows ${fmt(r.conditionalOnClicked)}`);
    const base = results['clicked-only'].all;
    assert.ok(results.esmm.all > base + 0.01, `esmm ${results.esmm.all} vs clicked-only ${base}`);
    assert.ok(results.aitm.all > base + 0.005, `aitm ${results.aitm.all} vs clicked-only ${base}`);
  });
});
