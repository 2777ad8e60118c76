import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BLAS_BACKEND, DENSE_KERNEL, MASKED_LOSS_KERNEL, registerBlasBackend } from '../../src/mtl/blas/index.js';
import { compileFusedForward } from '../../src/mtl/fused-forward.js';
import { fusedMaskedLoss, maskedLossParts, maskedMean, weightedSum } from '../../src/mtl/losses.js';
import { asList, buildModel, type HeadSpec } from '../../src/mtl/model-builder.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import type { ResolvedArchitecture, TaskType, TrainingSpec } from '../../src/mtl/spec.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';
import { createRng } from '../../src/mtl/rng.js';
import { randomNormals, relativeError } from '../helpers/numeric.js';

/**
 * The trainer's fused path on the `blas` backend (each Dense layer, each task's masked loss and
 * the static loss sum as one kernel) against the path every backend runs (tfjs-layers' apply and
 * the composed loss ops): same forward values, same losses, same gradients, same training.
 */
const blas = registerBlasBackend();
const skip = blas.ok ? false : `native BLAS addon unavailable: ${blas.reason}`;

const rand = createRng(777);
const randn = randomNormals(rand);

const heads: HeadSpec[] = [
  { name: 'digit', type: 'classification', width: 10 },
  { name: 'parity', type: 'binary', width: 1 },
  { name: 'tags', type: 'multilabel', width: 4 },
  { name: 'value', type: 'regression', width: 1 },
];

function batchFor(rows: number) {
  const mask = (p: number) => Float32Array.from({ length: rows }, () => (rand() < p ? 1 : 0));
  return {
    x: randn(rows * 12),
    labels: [
      { values: Int32Array.from({ length: rows }, () => Math.floor(rand() * 10)), mask: mask(0.7) },
      { values: Float32Array.from({ length: rows }, () => (rand() < 0.5 ? 1 : 0)), mask: mask(0.9) },
      { values: Float32Array.from({ length: rows * 4 }, () => (rand() < 0.3 ? 1 : 0)), mask: mask(1) },
      { values: randn(rows), mask: mask(0.5) },
    ],
  };
}

function labelTensors(b: ReturnType<typeof batchFor>, rows: number) {
  return b.labels.map((l, t) => ({
    values: heads[t].type === 'multilabel' ? tf.tensor2d(l.values as Float32Array, [rows, 4]) : tf.tensor1d(l.values, l.values instanceof Int32Array ? 'int32' : 'float32'),
    mask: tf.tensor1d(l.mask),
  }));
}

describe('fused training path (blas backend) = the composed path', { skip }, () => {
  before(async () => {
    await tf.setBackend(BLAS_BACKEND);
  });

  for (const [activation, headLayers] of [['relu', [8]], ['tanh', [8]], ['elu', [8]], ['relu', []]] as const) {
    it(`forward and gradients of a hard-sharing model, ${activation}, head layers [${headLayers}]${headLayers.length === 0 ? ' (heads as one product)' : ''}`, () => {
      const architecture: ResolvedArchitecture = { type: 'hard-sharing', sharedLayers: [32, 16], headLayers: [...headLayers], activation };
      const model = buildModel({ inputSize: 12, architecture, heads, seed: 3 });
      const forward = compileFusedForward(model.training);
      assert.ok(forward, 'an all-Dense model compiles');
      const rows = 50;
      const b = batchFor(rows);
      const before = tf.memory().numTensors;
      const vars = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const x = tf.tensor2d(b.x, [rows, 12]);
          const labels = labelTensors(b, rows);
          const logits = fused ? forward!(x) : asList(model.training.apply(x, { training: true }) as tf.Tensor | tf.Tensor[]);
          const outputs = logits.map((l) => l.dataSync().slice());
          const { value, grads } = tf.variableGrads(() => {
            const ls = fused ? forward!(x) : asList(model.training.apply(x, { training: true }) as tf.Tensor | tf.Tensor[]);
            const means = heads.map((h, t) =>
              fused ? fusedMaskedLoss(h.type, ls[t], labels[t].values, labels[t].mask, h.width).mean : (() => {
                const p = maskedLossParts(h.type, ls[t], labels[t].values, labels[t].mask, h.width);
                return maskedMean(p.sum, p.count);
              })(),
            );
            const w = [1, 0.5, 2, 1];
            return fused ? weightedSum(means, w) : means.reduce((a: tf.Tensor, l, t) => tf.add(a, tf.mul(l, w[t])), tf.scalar(0));
          }, vars);
          return { outputs, loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync().slice()) };
        });
      const composed = run(false);
      const fused = run(true);
      composed.outputs.forEach((o, t) => assert.ok(relativeError(fused.outputs[t], o) < 1e-6, `head ${t} logits`));
      assert.ok(Math.abs(fused.loss - composed.loss) <= 1e-6 * Math.abs(composed.loss), `loss ${fused.loss} vs ${composed.loss}`);
      composed.grads.forEach((g, i) => {
        const e = relativeError(fused.grads[i], g);
        assert.ok(e < 1e-5, `gradient of ${vars[i].name}: relative error ${e}`);
      });
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      model.serving.dispose();
    });
  }

  for (const type of ['classification', 'binary', 'multilabel', 'regression'] as TaskType[]) {
    it(`a ${type} task's masked loss: mean, sum, count and gradient through both`, () => {
      const rows = 64;
      const width = type === 'classification' ? 7 : type === 'multilabel' ? 3 : 1;
      const logits = randn(rows * width, 4);
      logits[0] = 0; // the kink of |x| in the sigmoid loss
      const labels = type === 'classification' ? Int32Array.from({ length: rows }, () => Math.floor(rand() * width)) : type === 'regression' ? randn(rows) : Float32Array.from({ length: rows * width }, () => (rand() < 0.4 ? 1 : 0));
      const mask = Float32Array.from({ length: rows }, () => (rand() < 0.6 ? 1 : 0));
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const l = tf.variable(tf.tensor2d(logits, [rows, width]));
          const y = type === 'multilabel' ? tf.tensor2d(labels as Float32Array, [rows, width]) : tf.tensor1d(labels, labels instanceof Int32Array ? 'int32' : 'float32');
          const m = tf.tensor1d(mask);
          let parts: number[] = [];
          const { grads } = tf.variableGrads(() => {
            if (fused) {
              const r = fusedMaskedLoss(type, l, y, m, width);
              parts = [r.mean.dataSync()[0], r.sum.dataSync()[0], r.count.dataSync()[0]];
              return tf.add(r.mean, tf.mul(r.sum, 0.25)); // both outputs carry gradient (the kernel's dSum branch)
            }
            const p = maskedLossParts(type, l, y, m, width);
            const mean = maskedMean(p.sum, p.count);
            parts = [mean.dataSync()[0], p.sum.dataSync()[0], p.count.dataSync()[0]];
            return tf.add(mean, tf.mul(p.sum, 0.25));
          }, [l]);
          const g = grads[l.name].dataSync().slice();
          l.dispose();
          return { parts, g };
        });
      const composed = run(false);
      const fused = run(true);
      assert.equal(fused.parts[2], composed.parts[2], 'count');
      assert.ok(Math.abs(fused.parts[1] - composed.parts[1]) <= 1e-6 * Math.abs(composed.parts[1]), `sum ${fused.parts[1]} vs ${composed.parts[1]}`);
      assert.ok(Math.abs(fused.parts[0] - composed.parts[0]) <= 1e-6 * Math.abs(composed.parts[0]), `mean ${fused.parts[0]} vs ${composed.parts[0]}`);
      const e = relativeError(fused.g, composed.g);
      assert.ok(e < 1e-5, `gradient: relative error ${e}`);
    });
  }

  it('leaves architectures with other layers to tfjs-layers', () => {
    for (const architecture of [
      { type: 'mmoe', experts: 2, expertLayers: [8], towerLayers: [4], activation: 'relu' },
      { type: 'soft-sharing', sharedLayers: [8], headLayers: [], activation: 'relu', crossStitch: true, tie: 0 },
    ] as ResolvedArchitecture[]) {
      const model = buildModel({ inputSize: 12, architecture, heads, seed: 1 });
      assert.equal(compileFusedForward(model.training), null, architecture.type);
      model.serving.dispose();
    }
  });

  it('trains the digits to the same losses as stock tfjs on the cpu backend, and leaks nothing', async () => {
    const { rows, summary } = loadDigits();
    const tasks: TrainingSpec['tasks'] = [
      { name: 'digit', type: 'classification' },
      { name: 'parity', type: 'binary' },
      { name: 'tags', type: 'multilabel' },
      { name: 'value', type: 'regression', weight: 0.5 },
    ];
    const spec = resolveSpec({ datasetId: 'digits', features: PIXELS.map((name) => ({ name })), tasks, architecture: { sharedLayers: [32, 16] }, training: { epochs: 3, batchSize: 64, earlyStopping: false } }, summary);
    const subset = rows.slice(0, 600);
    // The reference is tfjs's own cpu backend: none of the blas kernels (fused layers, losses,
    // weighted sum, batch gather, Adam) runs there.
    await tf.setBackend('cpu');
    const cpuBefore = tf.memory().numTensors;
    const composed = await trainOnRows(spec, subset);
    disposeModel(composed.model);
    assert.equal(tf.memory().numTensors, cpuBefore);
    await tf.setBackend(BLAS_BACKEND);
    const before = tf.memory().numTensors;
    const fused = await trainOnRows(spec, subset);
    composed.result.history.forEach((h, i) => {
      const f = fused.result.history[i];
      assert.ok(Math.abs(f.loss - h.loss) <= 1e-4 * h.loss, `epoch ${i + 1} training loss ${f.loss} vs ${h.loss}`);
      assert.ok(Math.abs(f.valLoss! - h.valLoss!) <= 1e-4 * h.valLoss!, `epoch ${i + 1} validation loss ${f.valLoss} vs ${h.valLoss}`);
    });
    disposeModel(fused.model);
    assert.equal(tf.memory().numTensors, before);
  });

  it('fused: false (MTL_FUSED=false) trains with the stock ops on the blas backend', async () => {
    const { rows, summary } = loadDigits();
    const spec = resolveSpec({ datasetId: 'digits', features: PIXELS.map((name) => ({ name })), tasks: [{ name: 'digit', type: 'classification' }], architecture: { sharedLayers: [16] }, training: { epochs: 1, batchSize: 64, earlyStopping: false } }, summary);
    await tf.setBackend(BLAS_BACKEND);
    const calls: Record<string, number> = { [DENSE_KERNEL]: 0, [MASKED_LOSS_KERNEL]: 0 };
    const kernels = Object.keys(calls).map((name) => tf.getKernel(name, BLAS_BACKEND)!);
    for (const k of kernels) {
      tf.unregisterKernel(k.kernelName, BLAS_BACKEND);
      tf.registerKernel({ ...k, kernelFunc: (args) => (calls[k.kernelName]++, k.kernelFunc(args)) });
    }
    try {
      disposeModel((await trainOnRows(spec, rows.slice(0, 300), { fused: false })).model);
      assert.deepEqual(calls, { [DENSE_KERNEL]: 0, [MASKED_LOSS_KERNEL]: 0 });
      disposeModel((await trainOnRows(spec, rows.slice(0, 300))).model);
      assert.ok(calls[DENSE_KERNEL] > 0 && calls[MASKED_LOSS_KERNEL] > 0, `the fused kernels run by default: ${JSON.stringify(calls)}`);
    } finally {
      for (const k of kernels) {
        tf.unregisterKernel(k.kernelName, BLAS_BACKEND);
        tf.registerKernel(k);
      }
    }
  });
});
