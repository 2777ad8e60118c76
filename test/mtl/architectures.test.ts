import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildModel, trainingViewOf, type HeadSpec } from '../../src/mtl/model-builder.js';
import { CrossStitch } from '../../src/mtl/layers/cross-stitch.js';
import { GatedMixture } from '../../src/mtl/layers/gated-mixture.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts, importArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { ResolvedArchitecture, TrainingSpec } from '../../src/mtl/spec.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { rows, summary } = loadDigits();
const features = PIXELS.map((name) => ({ name }));
const tasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'value', type: 'regression' },
];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Soft-sharing's tie penalty reads weights only, not the step's batch. */
const NO_STEP = { x: null as unknown as tf.Tensor, logits: [] };

interface Case {
  title: string;
  architecture: NonNullable<TrainingSpec['architecture']>;
  /** Trainable variables more than one task's loss reaches, for the three digits tasks. */
  sharedCount: number;
  regularized: boolean;
}

const cases: Case[] = [
  // 3 tasks × 2 levels × (kernel, bias) + 2 α.
  { title: 'soft-sharing with cross-stitch', architecture: { type: 'soft-sharing', sharedLayers: [32, 16], crossStitch: true }, sharedCount: 14, regularized: false },
  { title: 'soft-sharing, tie only', architecture: { type: 'soft-sharing', sharedLayers: [32, 16], crossStitch: false, tie: 0.001 }, sharedCount: 0, regularized: true },
  // 3 experts × (kernel, bias).
  { title: 'mmoe', architecture: { type: 'mmoe', experts: 3, expertLayers: [32], towerLayers: [16] }, sharedCount: 6, regularized: false },
  // level 0: 2 shared + 3 task experts + shared gate, level 1: 2 shared experts; × (kernel, bias).
  { title: 'ple (two levels)', architecture: { type: 'ple', experts: 2, taskExperts: 1, levels: 2, expertLayers: [24], towerLayers: [16] }, sharedCount: 16, regularized: false },
  // 4 experts × (kernel, bias).
  { title: 'dselect-k', architecture: { type: 'dselect-k', experts: 4, k: 2, expertLayers: [32], towerLayers: [16] }, sharedCount: 8, regularized: false },
  // 3 experts: the reachability penalty; static gates with the entropy regulariser.
  { title: 'dselect-k (3 experts, static gates, entropy)', architecture: { type: 'dselect-k', experts: 3, k: 2, perExample: false, entropy: 0.01, expertLayers: [32], towerLayers: [16] }, sharedCount: 6, regularized: true },
];

describe('multi-task architectures on real data (sklearn digits)', () => {
  before(useTestBackend);

  for (const c of cases) {
    it(`${c.title}: learns, predicts every head in one call, survives save → load, leaks nothing`, async (t) => {
      const before = tf.memory().numTensors;
      const perEpoch: number[] = [];
      const spec = resolveSpec(
        { datasetId: 'digits', features, tasks, architecture: c.architecture, training: { epochs: 6, batchSize: 32, learningRate: 0.01, earlyStopping: false } },
        summary,
      );
      const trained = await trainOnRows(spec, rows.slice(0, 500), { onEpoch: () => void perEpoch.push(tf.memory().numTensors) });
      const { model } = trained;
      try {
        const history = trained.result.history;
        const m = trained.result.validationMetrics!;
        t.diagnostic(`${c.title}: loss ${history[0].loss.toFixed(3)} → ${history.at(-1)!.loss.toFixed(3)}; validation digit accuracy ${m.digit.accuracy!.toFixed(3)}, parity AUC ${m.parity.auc!.toFixed(3)}, value R² ${m.value.r2!.toFixed(3)}`);
        assert.ok(history.at(-1)!.loss < history[0].loss * 0.6, `loss ${history[0].loss} → ${history.at(-1)!.loss}`);
        assert.ok(m.digit.accuracy! > 0.7, `digit accuracy ${m.digit.accuracy} (chance 0.1)`);
        assert.ok(m.parity.auc! > 0.8, `parity AUC ${m.parity.auc}`);
        assert.equal(new Set(perEpoch).size, 1, `tensor count per epoch: ${perEpoch}`);

        assert.equal(model.sharedVariables.length, c.sharedCount, `shared: ${model.sharedVariables.map((v) => v.name)}`);
        assert.equal(model.regularization !== undefined, c.regularized);

        const loaded = await importArtifacts(await exportArtifacts(model.serving));
        try {
          const instances = rows.slice(600, 620);
          const original = predictInstances(model.serving, trained.preprocessing, instances);
          let predictCalls = 0;
          const realPredict = loaded.predict.bind(loaded);
          loaded.predict = (x, args) => (predictCalls++, realPredict(x, args));
          const reloaded = predictInstances(loaded, trained.preprocessing, instances);
          assert.equal(predictCalls, 1, 'one model.predict call for the whole batch');
          assert.deepEqual(Object.keys(reloaded[0]), ['digit', 'parity', 'value']);
          assert.deepEqual(reloaded, original);

          const view = trainingViewOf(loaded, model.heads, spec.architecture);
          assert.equal(view.sharedVariables.length, model.sharedVariables.length);
          assert.deepEqual(view.sharedVariables.map((v) => v.shape), model.sharedVariables.map((v) => v.shape));
          if (c.regularized) {
            const step = { x: tf.randomNormal([8, trained.preprocessing.inputSize], 0, 1, 'float32', 5), logits: [] };
            const [a, b] = [model.regularization!(step), view.regularization!(step)];
            assert.ok(a.dataSync()[0] > 0);
            assert.equal(b.dataSync()[0], a.dataSync()[0]);
            tf.dispose([a, b, step.x]);
          }
        } finally {
          loaded.dispose();
        }
      } finally {
        disposeModel(model);
      }
      assert.equal(tf.memory().numTensors, before, 'every tensor freed after disposing the models');
    });
  }
});

describe('shared variables are exactly the weights more than one task reaches', () => {
  before(useTestBackend);

  const heads: HeadSpec[] = [
    { name: 'digit', type: 'classification', width: 10 },
    { name: 'parity', type: 'binary', width: 1 },
    { name: 'value', type: 'regression', width: 1 },
  ];
  const architectures: ResolvedArchitecture[] = [
    { type: 'soft-sharing', sharedLayers: [8, 6], headLayers: [4], activation: 'tanh', crossStitch: true, tie: 0 },
    { type: 'soft-sharing', sharedLayers: [8, 6], headLayers: [4], activation: 'tanh', crossStitch: false, tie: 1 },
    { type: 'mmoe', experts: 3, expertLayers: [8, 6], towerLayers: [4], activation: 'tanh' },
    { type: 'ple', experts: 2, taskExperts: 2, levels: 3, expertLayers: [8], towerLayers: [4], activation: 'tanh' },
    { type: 'dselect-k', experts: 4, k: 2, gamma: 1, perExample: true, entropy: 0, expertLayers: [8, 6], towerLayers: [4], activation: 'tanh' },
  ];

  for (const architecture of architectures) {
    it(`${architecture.type}${architecture.type === 'soft-sharing' ? (architecture.crossStitch ? ' (cross-stitch)' : ' (tie)') : ''}`, () => {
      const before = tf.memory().numTensors;
      const model = buildModel({ inputSize: 5, architecture, heads, seed: 3 });
      const all = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
      const reachedBy = new Map<string, number>();
      const x = tf.randomNormal([16, 5], 0, 1, 'float32', 11);
      heads.forEach((_, t) => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.training.apply(x) as tf.Tensor[];
          return tf.sum(tf.square(logits[t])) as tf.Scalar;
        }, all);
        for (const [name, g] of Object.entries(grads)) {
          if (tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) > 0) reachedBy.set(name, (reachedBy.get(name) ?? 0) + 1);
        }
        tf.dispose([value, ...Object.values(grads)]);
      });
      const expected = all.filter((v) => (reachedBy.get(v.name) ?? 0) > 1).map((v) => v.name).sort();
      assert.deepEqual(model.sharedVariables.map((v) => v.name).sort(), expected);
      x.dispose();
      model.serving.dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  }
});

describe('builds repeat for a seed', () => {
  before(useTestBackend);

  it('same seed, same weights; another seed, other weights (every architecture)', () => {
    const heads: HeadSpec[] = [
      { name: 'a', type: 'binary', width: 1 },
      { name: 'b', type: 'regression', width: 1 },
    ];
    const architectures: ResolvedArchitecture[] = [
      { type: 'soft-sharing', sharedLayers: [4], headLayers: [3], activation: 'relu', crossStitch: true, tie: 0.1 },
      { type: 'mmoe', experts: 2, expertLayers: [4], towerLayers: [3], activation: 'relu' },
      { type: 'ple', experts: 1, taskExperts: 1, levels: 2, expertLayers: [4], towerLayers: [3], activation: 'relu' },
      { type: 'dselect-k', experts: 3, k: 2, gamma: 1, perExample: true, entropy: 0, expertLayers: [4], towerLayers: [3], activation: 'relu' },
    ];
    for (const architecture of architectures) {
      const [x, y, z] = [7, 7, 8].map((seed) => buildModel({ inputSize: 3, architecture, heads, seed }));
      const values = (m: typeof x) => m.serving.getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(values(x), values(y), architecture.type);
      assert.notDeepEqual(values(x), values(z), architecture.type);
      [x, y, z].forEach((m) => m.serving.dispose());
    }
  });
});

describe('custom layers (hand-computed)', () => {
  before(useTestBackend);

  it('cross-stitch: out_i = Σ_j α_ij h_j, α initialised to 0.9 / 0.1/(T−1)', () => {
    const before = tf.memory().numTensors;
    const h1 = tf.tensor2d([[1, 2], [3, 4]]);
    const h2 = tf.tensor2d([[10, 20], [30, 40]]);
    const layer = new CrossStitch({ name: 'cs_test' });
    tf.dispose(layer.apply([h1, h2]) as tf.Tensor[]); // builds α
    assert.deepEqual(roundAll(layer.getWeights()[0].arraySync() as number[][]), [[0.9, 0.1], [0.1, 0.9]]);
    tf.tidy(() => layer.setWeights([tf.tensor2d([[0.9, 0.1], [0.2, 0.8]])]));
    const [o1, o2] = layer.apply([h1, h2]) as tf.Tensor[];
    // out_1 = 0.9·h1 + 0.1·h2; out_2 = 0.2·h1 + 0.8·h2.
    assert.deepEqual(roundAll(o1.arraySync() as number[][]), [[1.9, 3.8], [5.7, 7.6]]);
    assert.deepEqual(roundAll(o2.arraySync() as number[][]), [[8.2, 16.4], [24.6, 32.8]]);
    // d Σ(out_1 + out_2) / d α_ij = Σ h_j.
    const alpha = layer.trainableWeights[0].read() as tf.Variable;
    const { value, grads } = tf.variableGrads(() => tf.addN((layer.apply([h1, h2]) as tf.Tensor[]).map((o) => tf.sum(o))) as tf.Scalar, [alpha]);
    assert.deepEqual(roundAll(grads[alpha.name].arraySync() as number[][]), [[10, 100], [10, 100]]);
    tf.dispose([o1, o2, value, ...Object.values(grads), h1, h2]);
    layer.dispose();

    const three = new CrossStitch({ name: 'cs_three' });
    const ones = [1, 2, 3].map(() => tf.ones([1, 2]));
    tf.dispose(three.apply(ones) as tf.Tensor[]);
    assert.deepEqual(roundAll(three.getWeights()[0].arraySync() as number[][]), [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]);
    tf.dispose(ones);
    three.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('cross-stitch in a symbolic model: one layer, T outputs', () => {
    const before = tf.memory().numTensors;
    const a = tf.input({ shape: [2] });
    const b = tf.input({ shape: [2] });
    const outs = new CrossStitch({ name: 'cs_model', selfWeight: 0.75 }).apply([a, b]) as tf.SymbolicTensor[];
    assert.equal(outs.length, 2);
    const model = tf.model({ inputs: [a, b], outputs: outs });
    const [o1, o2] = tf.tidy(() => (model.predict([tf.tensor2d([[4, 8]]), tf.tensor2d([[0, 4]])]) as tf.Tensor[]).map((o) => o.arraySync()));
    assert.deepEqual(o1, [[3, 7]]); // 0.75·[4,8] + 0.25·[0,4]
    assert.deepEqual(o2, [[1, 5]]); // 0.25·[4,8] + 0.75·[0,4]
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('gated mixture: Σ_e gate_e · expert_e per row', () => {
    const before = tf.memory().numTensors;
    const gate = tf.tensor2d([[0.25, 0.75], [1, 0]]);
    const e1 = tf.tensor2d([[1, 2], [3, 4]]);
    const e2 = tf.tensor2d([[5, 6], [7, 8]]);
    const layer = new GatedMixture({ name: 'mix_test' });
    const out = layer.apply([gate, e1, e2]) as tf.Tensor;
    // row 0: 0.25·[1,2] + 0.75·[5,6] = [4,5]; row 1: 1·[3,4] + 0·[7,8] = [3,4].
    assert.deepEqual(out.arraySync(), [[4, 5], [3, 4]]);
    tf.dispose([gate, e1, e2, out]);
    layer.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('soft-sharing tie penalty: tie · Σ_levels Σ_{i<j} ‖W_i − W_j‖² over tower kernels (not biases), and its gradient', () => {
    const before = tf.memory().numTensors;
    const heads: HeadSpec[] = ['a', 'b', 'c'].map((name) => ({ name, type: 'regression', width: 1 }));
    const model = buildModel({
      inputSize: 2,
      architecture: { type: 'soft-sharing', sharedLayers: [2, 1], headLayers: [], activation: 'relu', crossStitch: false, tie: 0.5 },
      heads,
      seed: 1,
    });
    const set = (layer: string, kernel: number[][], bias: number[]) => tf.tidy(() => model.serving.getLayer(layer).setWeights([tf.tensor2d(kernel), tf.tensor1d(bias)]));
    set('a_tower_0', [[1, 2], [3, 4]], [5, 5]);
    set('b_tower_0', [[0, 2], [3, 1]], [-5, 0]);
    set('c_tower_0', [[1, 1], [1, 1]], [9, 9]);
    set('a_tower_1', [[1], [0]], [1]);
    set('b_tower_1', [[0], [0]], [2]);
    set('c_tower_1', [[2], [2]], [3]);
    // level 0: ‖A−B‖² = 1+9 = 10, ‖A−C‖² = 1+4+9 = 14, ‖B−C‖² = 1+1+4 = 6 → 30.
    // level 1: ‖a−b‖² = 1, ‖a−c‖² = 1+4 = 5, ‖b−c‖² = 4+4 = 8 → 14. 0.5 · 44 = 22.
    const penalty = model.regularization!(NO_STEP);
    assert.ok(Math.abs(penalty.dataSync()[0] - 22) < 1e-5, `penalty ${penalty.dataSync()[0]}`);
    // ∂/∂A = 2·tie·((A−B) + (A−C)) = [[1,0],[0,3]] + [[0,1],[2,3]].
    const kernelA = model.serving.getLayer('a_tower_0').trainableWeights[0].read() as tf.Variable;
    const { value, grads } = tf.variableGrads(() => model.regularization!(NO_STEP), [kernelA]);
    assert.deepEqual(roundAll(grads[kernelA.name].arraySync() as number[][]), [[1, 1], [2, 6]]);
    tf.dispose([penalty, value, ...Object.values(grads)]);
    model.serving.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('loading in a fresh process', () => {
  before(useTestBackend);

  it('a process that imports only serialization.ts loads cross-stitch, gated-mixture, DSelect-k and cascade models with identical predictions', async () => {
    const heads: HeadSpec[] = [
      { name: 'digit', type: 'classification', width: 10 },
      { name: 'parity', type: 'binary', width: 1 },
    ];
    const cascade = (mode: 'esmm' | 'aitm'): HeadSpec[] => [
      { name: 'click', type: 'binary', width: 1 },
      { name: 'buy', type: 'binary', width: 1, cascade: mode === 'esmm' ? { dependsOn: 'click', mode } : { dependsOn: 'click', mode, calibration: 0.6 } },
    ];
    const hard: ResolvedArchitecture = { type: 'hard-sharing', sharedLayers: [6], headLayers: [3], activation: 'relu' };
    const models = [
      buildModel({ inputSize: 4, architecture: { type: 'soft-sharing', sharedLayers: [6], headLayers: [], activation: 'relu', crossStitch: true, tie: 0 }, heads, seed: 5 }),
      buildModel({ inputSize: 4, architecture: { type: 'ple', experts: 2, taskExperts: 1, levels: 2, expertLayers: [6], towerLayers: [], activation: 'relu' }, heads, seed: 5 }),
      buildModel({ inputSize: 4, architecture: { type: 'dselect-k', experts: 4, k: 2, gamma: 1, perExample: true, entropy: 0, expertLayers: [6], towerLayers: [3], activation: 'relu' }, heads, seed: 5 }),
      buildModel({ inputSize: 4, architecture: hard, heads: cascade('esmm'), seed: 5 }),
      buildModel({ inputSize: 4, architecture: hard, heads: cascade('aitm'), seed: 5 }),
    ];
    const x = [[0.5, -1, 2, 0], [1, 1, -0.25, 3]];
    const expected = models.map((m) => tf.tidy(() => (m.serving.predict(tf.tensor2d(x)) as tf.Tensor[]).map((o) => Array.from(o.dataSync()))));
    const dir = mkdtempSync(join(tmpdir(), 'mtl-arch-'));
    try {
      const artifacts = await Promise.all(models.map((m) => exportArtifacts(m.serving)));
      const file = join(dir, 'models.json');
      writeFileSync(file, JSON.stringify(artifacts.map((a) => ({ ...a, weightData: Buffer.from(a.weightData).toString('base64') }))));
      const script = `
        import * as tf from '@tensorflow/tfjs';
        import { readFileSync } from 'node:fs';
        import { selectBackend } from './src/mtl/backend.ts';
        import { importArtifacts } from './src/mtl/serialization.ts';
        await selectBackend(process.env.TF_BACKEND ?? 'auto');
        const out = [];
        for (const a of JSON.parse(readFileSync(${JSON.stringify(file)}, 'utf8'))) {
          const b = Buffer.from(a.weightData, 'base64');
          const model = await importArtifacts({ ...a, weightData: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
          out.push(model.predict(tf.tensor2d(${JSON.stringify(x)})).map((o) => Array.from(o.dataSync())));
        }
        process.stdout.write('RESULT' + JSON.stringify(out));
      `;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
      const got = JSON.parse(stdout.slice(stdout.indexOf('RESULT') + 'RESULT'.length)) as number[][][];
      assert.deepEqual(got, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      models.forEach((m) => m.serving.dispose());
    }
  });
});

function roundAll(m: number[][]): number[][] {
  return m.map((r) => r.map((v) => Math.round(v * 1e5) / 1e5));
}
