import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { DSelectKGate, selectorOutputs, smoothStep } from '../../src/mtl/layers/dselect-k-gate.js';
import { gatedMixture } from '../../src/mtl/layers/gated-mixture.js';
import { tf, useTestBackend } from '../helpers/backend.js';

/** The gate's weights for a batch, as plain rows. */
function weightsOf(gate: DSelectKGate, x: tf.Tensor): number[][] {
  return tf.tidy(() => (gate.apply(x) as tf.Tensor).arraySync() as number[][]);
}

function nonZero(row: number[]): number[] {
  return row.flatMap((v, e) => (v !== 0 ? [e] : []));
}

describe('DSelect-k gate (hand-computed)', () => {
  before(useTestBackend);

  it('smooth-step: exactly 0 below −γ/2, exactly 1 above γ/2, −2t³/γ³ + 3t/(2γ) + ½ between, gradient 0 outside', () => {
    const before = tf.memory().numTensors;
    const t = tf.tensor1d([-3, -0.5, -0.25, 0, 0.25, 0.5, 3]);
    // S(±0.25) = ∓2/64 ± 3/8 + 1/2.
    assert.deepEqual(Array.from(tf.tidy(() => smoothStep(t, 1).dataSync())), [0, 0, 0.15625, 0.5, 0.84375, 1, 1]);
    // γ = 4: S(1) = −2/64 + 3/8 + 1/2.
    assert.ok(Math.abs(tf.tidy(() => smoothStep(tf.scalar(1), 4).dataSync()[0]) - 0.84375) < 1e-6);
    // S'(t) = −6t²/γ³ + 3/(2γ) inside, 0 outside: at 0 → 1.5, at 0.25 → 1.125.
    const g = tf.tidy(() => Array.from(tf.grad((x: tf.Tensor) => tf.sum(smoothStep(x, 1)))(t).dataSync()));
    assert.deepEqual(g.map((v) => Math.round(v * 1e5) / 1e5), [0, 0, 1.125, 1.5, 1.125, 0, 0]);
    t.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('a selector is a product of soft bits over the binary codes of the experts', () => {
    const before = tf.memory().numTensors;
    // bits (s0, s1) = (0.25, 0.5): expert e has code (e & 1, e >> 1 & 1).
    const q = tf.tidy(() => Array.from(selectorOutputs(tf.tensor2d([[0.25, 0.5]]), 4).dataSync()));
    assert.deepEqual(q, [0.75 * 0.5, 0.25 * 0.5, 0.75 * 0.5, 0.25 * 0.5]);
    // 3 experts: code 3 is unreachable, its mass 0.125 is lost.
    const three = tf.tidy(() => Array.from(selectorOutputs(tf.tensor2d([[0.25, 0.5]]), 3).dataSync()));
    assert.deepEqual(three, [0.375, 0.125, 0.375]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('weights are non-negative and sum to 1 (per example and static, 2 to 16 experts)', () => {
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([32, 5], 0, 3, 'float32', 1);
    for (const experts of [2, 4, 8, 16])
      for (const perExample of [true, false]) {
        const gate = new DSelectKGate({ name: `g_${experts}_${perExample}`, experts, k: 2, gamma: 1, perExample, seed: 7 });
        const rows = weightsOf(gate, x);
        assert.equal(rows.length, 32);
        for (const row of rows) {
          assert.equal(row.length, experts);
          assert.ok(row.every((v) => v >= 0));
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${experts} experts: Σ = ${row.reduce((a, b) => a + b, 0)}`);
        }
        if (!perExample) assert.ok(rows.every((r) => r.every((v, e) => v === rows[0][e])), 'a static gate gives every row the same weights');
        gate.dispose();
      }
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('saturated by hand: exactly k experts non-zero, weighted by softmax(w), the rest exactly 0', () => {
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([16, 3], 0, 1, 'float32', 2);
    // Per example, 8 experts (3 bits), k = 3: kernels 0, the biases pick codes 6 (011), 1 (100) and 5 (101) for every row.
    const gate = new DSelectKGate({ name: 'saturated', experts: 8, k: 3, gamma: 0.5, perExample: true, seed: 1 });
    weightsOf(gate, x);
    const z = [[-1, 1, 1], [1, -1, -1], [1, -1, 1]]; // bit b of selector i: +1 → 1, −1 → 0 (least significant bit first)
    const w = [0, Math.log(2), Math.log(5)]; // softmax → 1/8, 2/8, 5/8
    tf.tidy(() => gate.setWeights([tf.zeros([3, 9]), tf.tensor1d(z.flat()), tf.zeros([3, 3]), tf.tensor1d(w)]));
    for (const row of weightsOf(gate, x)) {
      assert.deepEqual(nonZero(row), [1, 5, 6]);
      assert.ok(Math.abs(row[6] - 1 / 8) < 1e-6 && Math.abs(row[1] - 2 / 8) < 1e-6 && Math.abs(row[5] - 5 / 8) < 1e-6, JSON.stringify(row));
    }
    // Logits just inside ±γ/2 are not saturated: every expert keeps a little weight.
    tf.tidy(() => gate.setWeights([tf.zeros([3, 9]), tf.tensor1d(z.flat().map((v) => v * 0.24)), tf.zeros([3, 3]), tf.tensor1d(w)]));
    assert.equal(nonZero(weightsOf(gate, x)[0]).length, 8);
    gate.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('penalty: entropy of the selectors, and Σ_i 1/Σ_e q_ie when some codes reach no expert', () => {
    const before = tf.memory().numTensors;
    const x = tf.zeros([4, 2]);
    // Static, 3 experts (2 bits), one selector with z = 0 → bits ½ → q = [¼, ¼, ¼] (¼ lost on code 3).
    const gate = new DSelectKGate({ name: 'pen', experts: 3, k: 1, perExample: false, seed: 1 });
    weightsOf(gate, x);
    tf.tidy(() => gate.setWeights([tf.zeros([1, 2]), tf.zeros([1])]));
    const reach = tf.tidy(() => gate.penalty(x as tf.Tensor2D, 0).dataSync()[0]);
    assert.ok(Math.abs(reach - 4 / 3) < 1e-5, `1/(3/4) = 4/3, got ${reach}`);
    const withEntropy = tf.tidy(() => gate.penalty(x as tf.Tensor2D, 0.5).dataSync()[0]);
    const entropy = -3 * 0.25 * Math.log(0.25 + 1e-6);
    assert.ok(Math.abs(withEntropy - (4 / 3 + 0.5 * entropy)) < 1e-5, `${withEntropy}`);
    gate.dispose();
    // A power of two and no entropy weight: nothing to add.
    const four = new DSelectKGate({ name: 'pen4', experts: 4, k: 2, perExample: true, seed: 1 });
    weightsOf(four, x);
    assert.equal(tf.tidy(() => four.penalty(x as tf.Tensor2D, 0).dataSync()[0]), 0);
    four.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('DSelect-k gate learns an exactly k-sparse selection (toy problem)', () => {
  before(useTestBackend);

  it('8 fixed experts x_0..x_7, target 3·x_2 + 3·x_5: a static k = 2 gate ends on experts 2 and 5 exactly, every other weight 0', () => {
    const before = tf.memory().numTensors;
    const E = 8;
    const x = tf.randomNormal([256, E], 0, 1, 'float32', 1);
    const y = tf.tidy(() => tf.mul(tf.add(x.slice([0, 2], [-1, 1]), x.slice([0, 5], [-1, 1])), 3));
    const experts = tf.split(x, E, 1);
    const gate = new DSelectKGate({ name: 'toy', experts: E, k: 2, gamma: 1, perExample: false, seed: 3 });
    weightsOf(gate, x);
    // The authors' initial selector logits (±γ/100) start both selectors on the same soft bits, and
    // on this symmetric toy they then move together onto one expert; a wider start lets them part.
    const [, wLogits] = gate.getWeights();
    tf.tidy(() => gate.setWeights([tf.randomUniform([2, 3], -0.2, 0.2, 'float32', 3), wLogits]));
    const scale = tf.tidy(() => tf.variable(tf.scalar(1)));
    const variables = [...gate.trainableWeights.map((w) => w.read() as tf.Variable), scale];
    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 300; step++) {
      const loss = optimizer.minimize(() => tf.mean(tf.square(tf.sub(tf.mul(gatedMixture(gate.apply(x) as tf.Tensor, experts), scale), y))) as tf.Scalar, true, variables)!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    const [row] = weightsOf(gate, x); // static: every row has the same weights
    assert.deepEqual(nonZero(row), [2, 5], `gate ${row.map((v) => v.toFixed(4))}`);
    assert.ok(Math.abs(row[2] + row[5] - 1) < 1e-6);
    assert.ok(losses.at(-1)! < losses[0] / 5, `loss ${losses[0]} → ${losses.at(-1)}`);
    // Saturated: the selector logits get no gradient any more, so the choice stays.
    const z = gate.trainableWeights[0].read() as tf.Variable;
    const { grads, value } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.mul(gatedMixture(gate.apply(x) as tf.Tensor, experts), scale), y))) as tf.Scalar, [z]);
    assert.equal(tf.tidy(() => tf.max(tf.abs(grads[z.name])).dataSync()[0]), 0);
    tf.dispose([value, ...Object.values(grads), x, y, ...experts, scale]);
    optimizer.dispose();
    gate.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
