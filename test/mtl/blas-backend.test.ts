import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BLAS_BACKEND, broadcastLoops, registerBlasBackend } from '../../src/mtl/blas/index.js';
import { FusedAdamOptimizer } from '../../src/mtl/fused-adam.js';
import { createRng } from '../../src/mtl/rng.js';
import { randomNormals, relativeError } from '../helpers/numeric.js';

/**
 * The `blas` backend's kernels against the plain JS `cpu` backend's, on random inputs: every
 * replaced kernel must compute the same values (relative error < 1e-5; exactly the same where the
 * arithmetic is the same), including transposed and broadcast cases, and leak no tensors.
 */
const blas = registerBlasBackend();
const skip = blas.ok ? false : `native BLAS addon unavailable: ${blas.reason}`;

const rand = createRng(20240611);
const randn = randomNormals(rand);

/** Runs `f` on the named backend with fresh tensors made from the same arrays; returns plain arrays. */
async function on(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync().slice() as Float32Array);
  });
  assert.equal(tf.memory().numTensors, before, `${backend}: no tensor leaked`);
  return out;
}

async function same(name: string, f: () => tf.Tensor | tf.Tensor[], tolerance = 1e-5): Promise<void> {
  const ref = await on('cpu', f);
  const got = await on(BLAS_BACKEND, f);
  assert.equal(got.length, ref.length);
  ref.forEach((r, i) => {
    if (tolerance === 0) {
      // Identical values (NaN payloads aside: JS's Math.max may return a NaN with the sign bit set).
      const at = r.findIndex((v, j) => !(Object.is(v, got[i][j]) || (Number.isNaN(v) && Number.isNaN(got[i][j]))));
      assert.equal(got[i].length, r.length, `${name}: same length`);
      return assert.equal(at, -1, `${name}: differs at ${at}: ${got[i][at]} vs ${r[at]}`);
    }
    const e = relativeError(got[i], r);
    assert.ok(e < tolerance, `${name}: relative error ${e} ≥ ${tolerance}`);
  });
}

describe('blas backend kernels = cpu backend kernels', { skip }, () => {
  before(async () => {
    await tf.setBackend(BLAS_BACKEND);
  });

  it('names the kernels it replaces', () => {
    for (const k of ['BatchMatMul', '_FusedMatMul', 'GatherV2', 'Sum', 'Add', 'Relu', 'MtlFusedAdam']) assert.ok(blas.kernels.includes(k), k);
    assert.match(blas.library ?? '', /thread/);
  });

  it('matMul in every transpose combination (the Dense backward pass uses them all)', async () => {
    const [m, k, n] = [37, 53, 29];
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const a = randn(m * k);
        const b = randn(k * n);
        await same(`matMul tA=${transposeA} tB=${transposeB}`, () =>
          tf.matMul(tf.tensor2d(a, transposeA ? [k, m] : [m, k]), tf.tensor2d(b, transposeB ? [n, k] : [k, n]), transposeA, transposeB),
        );
      }
    }
  });

  it('matMul at the reference model’s sizes (256 × 784 × 256), transposed as in backprop', async () => {
    const x = randn(256 * 784);
    const dy = randn(256 * 256);
    const w = randn(784 * 256);
    await same('forward', () => tf.matMul(tf.tensor2d(x, [256, 784]), tf.tensor2d(w, [784, 256])));
    await same('kernel gradient xᵀ·dy', () => tf.matMul(tf.tensor2d(x, [256, 784]), tf.tensor2d(dy, [256, 256]), true, false));
    await same('input gradient dy·Wᵀ', () => tf.matMul(tf.tensor2d(dy, [256, 256]), tf.tensor2d(w, [784, 256]), false, true));
  });

  it('batched and broadcast matMul', async () => {
    const a = randn(3 * 17 * 19);
    const b = randn(3 * 19 * 11);
    const b1 = randn(19 * 11);
    await same('batched', () => tf.matMul(tf.tensor3d(a, [3, 17, 19]), tf.tensor3d(b, [3, 19, 11])));
    await same('batched, transposed', () => tf.matMul(tf.tensor3d(a, [3, 19, 17]), tf.tensor3d(b, [3, 11, 19]), true, true));
    await same('broadcast b', () => tf.matMul(tf.tensor3d(a, [3, 17, 19]), tf.tensor3d(b1, [1, 19, 11])));
    await same('rank 4', () => tf.matMul(tf.tensor4d(a, [3, 1, 17, 19]), tf.tensor4d(b, [3, 1, 19, 11])));
    await same('empty', () => tf.matMul(tf.zeros([0, 5]), tf.ones([5, 3])));
    await same('inner size 0', () => tf.matMul(tf.zeros([4, 0]), tf.zeros([0, 3])));
  });

  it('fused matMul with bias and every activation', async () => {
    const [m, k, n] = [21, 33, 13];
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
      for (const transposeB of [false, true]) {
        const a = randn(m * k);
        const b = randn(k * n).map((v) => v * 3);
        const bias = randn(n);
        const alpha = randn(n);
        await same(`fused ${activation} tB=${transposeB}`, () =>
          tf.fused.matMul({
            a: tf.tensor2d(a, [m, k]),
            b: tf.tensor2d(b, transposeB ? [n, k] : [k, n]),
            transposeB,
            bias: tf.tensor1d(bias),
            activation,
            preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
            leakyreluAlpha: 0.3,
          }),
        );
      }
    }
    const a = randn(5 * 7);
    const b = randn(7 * 3);
    const bias2d = randn(15);
    await same('fused, scalar bias', () => tf.fused.matMul({ a: tf.tensor2d(a, [5, 7]), b: tf.tensor2d(b, [7, 3]), bias: tf.scalar(0.5), activation: 'relu' }));
    await same('fused, no bias, transposed a', () => tf.fused.matMul({ a: tf.tensor2d(a, [7, 5]), b: tf.tensor2d(b, [7, 3]), transposeA: true }));
    await same('fused, [m, n] bias (cpu fallback)', () => tf.fused.matMul({ a: tf.tensor2d(a, [5, 7]), b: tf.tensor2d(b, [7, 3]), bias: tf.tensor2d(bias2d, [5, 3]) }));
  });

  it('gather of batch rows (float32 and int32, 1-d and 2-d) and its bounds check', async () => {
    const x = randn(50 * 8);
    const idx = Int32Array.from({ length: 30 }, () => Math.floor(rand() * 50));
    await same('rows', () => tf.gather(tf.tensor2d(x, [50, 8]), tf.tensor1d(idx, 'int32')), 0);
    await same('1-d', () => tf.gather(tf.tensor1d(x.subarray(0, 50)), tf.tensor1d(idx, 'int32')), 0);
    await same('int32', () => tf.gather(tf.tensor1d(Int32Array.from({ length: 50 }, (_, i) => i * 3 - 7), 'int32'), tf.tensor1d(idx, 'int32')).toFloat(), 0);
    await same('axis 1 (cpu fallback)', () => tf.gather(tf.tensor2d(x, [50, 8]), tf.tensor1d([3, 1], 'int32'), 1), 0);
    await tf.setBackend(BLAS_BACKEND);
    assert.throws(() => tf.tidy(() => tf.gather(tf.tensor2d(x, [50, 8]), tf.tensor1d([0, 50], 'int32'))), /not in \[0, 49\]/);
  });

  it('sum over leading axes (bias gradients), keepDims, and the other axes', async () => {
    const x = randn(6 * 5 * 4);
    await same('axis 0', () => tf.sum(tf.tensor2d(x, [30, 4]), 0), 0);
    await same('axes [0, 1]', () => tf.sum(tf.tensor3d(x, [6, 5, 4]), [0, 1]), 0);
    await same('axis 0 keepDims', () => tf.sum(tf.tensor3d(x, [6, 5, 4]), 0, true), 0);
    await same('axis 1 (cpu)', () => tf.sum(tf.tensor2d(x, [30, 4]), 1), 0);
    await same('all', () => tf.sum(tf.tensor2d(x, [30, 4])), 0);
    // A middle or last block of axes (MMoE mixes its experts over axis 1 of [batch, experts, units]).
    await same('axis 1 of 3', () => tf.sum(tf.tensor3d(x, [6, 5, 4]), 1), 0);
    await same('axis 1 of 3, keepDims', () => tf.sum(tf.tensor3d(x, [6, 5, 4]), 1, true), 0);
    await same('axis −1', () => tf.sum(tf.tensor3d(x, [6, 5, 4]), -1), 0);
    await same('axes [2, 1] of 4', () => tf.sum(tf.tensor4d(x, [2, 3, 5, 4]), [2, 1]), 0);
    await same('axes [1, 3] (not contiguous: cpu)', () => tf.sum(tf.tensor4d(x, [2, 3, 5, 4]), [1, 3]), 0);
  });

  it('stack and unstack on every axis (MMoE / PLE expert stacks and their gradient)', async () => {
    const parts = [randn(6 * 4), randn(6 * 4), randn(6 * 4)];
    for (const axis of [0, 1, 2, -1]) {
      await same(`stack axis ${axis}`, () => tf.stack(parts.map((p) => tf.tensor2d(p, [6, 4])), axis), 0);
    }
    const x = randn(5 * 3 * 40);
    for (const axis of [0, 1, 2, -1]) {
      await same(`unstack axis ${axis}`, () => tf.unstack(tf.tensor3d(x, [5, 3, 40]), axis), 0);
    }
    await same('unstack of a vector', () => tf.unstack(tf.tensor1d(x.subarray(0, 7))), 0);
    assert.ok(blas.kernels.includes('Unpack'));
  });

  it('elementwise binary ops with every broadcast pattern, bit-identical', async () => {
    const shapes: [number[], number[]][] = [
      [[7, 9], [7, 9]], [[7, 9], [9]], [[9], [7, 9]], [[7, 9], [7, 1]], [[7, 1], [7, 9]], [[7, 9], []], [[], [7, 9]],
      [[2, 1, 3], [1, 4, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[2, 1, 3, 1, 2], [1, 2, 1, 2, 1]], [[0, 3], [3]],
    ];
    const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div, maximum: tf.maximum, minimum: tf.minimum, squaredDifference: tf.squaredDifference };
    for (const [sa, sb] of shapes) {
      const a = randn(tf.util.sizeFromShape(sa));
      const b = randn(tf.util.sizeFromShape(sb));
      if (b.length > 0) b[0] = Number.NaN;
      for (const [name, op] of Object.entries(ops)) {
        await same(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => op(tf.tensor(a, sa), tf.tensor(b, sb)), 0);
      }
    }
  });

  it('broadcast loops: collapsed to at most three, strides 0 where an operand repeats', () => {
    assert.deepEqual(broadcastLoops([256, 256], [256]), { outShape: [256, 256], dims: [1, 256, 256], sa: [0, 256, 1], sb: [0, 0, 1] });
    assert.deepEqual(broadcastLoops([256, 10], [256, 1]), { outShape: [256, 10], dims: [1, 256, 10], sa: [0, 10, 1], sb: [0, 1, 0] });
    assert.deepEqual(broadcastLoops([4, 5, 6], [4, 5, 6])?.dims, [1, 1, 120]);
    assert.equal(broadcastLoops([2, 1, 3, 1, 2], [1, 2, 1, 2, 1]), null);
  });

  it('elementwise unary ops', async () => {
    const x = randn(1000);
    x[0] = Number.NaN;
    x[1] = 0;
    const pos = x.map((v) => Math.abs(v) + 1e-3);
    const exact = { relu: tf.relu, step: (t: tf.Tensor) => tf.step(t, 0.1), neg: tf.neg, abs: tf.abs, square: tf.square, relu6: (t: tf.Tensor) => tf.relu6(tf.mul(t, 4)) };
    for (const [name, op] of Object.entries(exact)) await same(name, () => op(tf.tensor1d(x)), 0);
    await same('sqrt', () => tf.sqrt(tf.tensor1d(pos)), 0);
    const transcendental = { exp: tf.exp, sigmoid: tf.sigmoid, elu: tf.elu, log1p: (t: tf.Tensor) => tf.log1p(tf.abs(t)) };
    for (const [name, op] of Object.entries(transcendental)) await same(name, () => op(tf.tensor1d(x)), 1e-6);
    await same('log', () => tf.log(tf.tensor1d(pos)), 1e-6);
  });

  it('softmax over the last axis', async () => {
    const x = randn(37 * 10).map((v) => v * 5);
    x[3] = Number.NaN;
    await same('softmax 2-d', () => tf.softmax(tf.tensor2d(x, [37, 10])), 0);
    await same('softmax 3-d', () => tf.softmax(tf.tensor3d(x.subarray(0, 360), [4, 9, 10])), 0);
  });

  it('gradients of a small multi-head net match the cpu backend', async () => {
    const x = randn(64 * 20);
    const w1 = randn(20 * 16);
    const w2 = randn(16 * 3);
    const b1 = randn(16);
    await same('gradients', () => {
      const vars = [tf.tensor2d(w1, [20, 16]), tf.tensor1d(b1), tf.tensor2d(w2, [16, 3])];
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const h = tf.relu(tf.add(tf.matMul(tf.tensor2d(x, [64, 20]), a), b));
        const logits = tf.matMul(h, c);
        return tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(Int32Array.from({ length: 64 }, (_, i) => i % 3), 'int32'), 3)), -1));
      };
      return tf.grads(f)(vars);
    });
  });

  it('fused Adam gives what tfjs’s Adam gives, step for step, and the same optimizer state (in place, and copying when a weight is shared)', async () => {
    const shapes = [[30, 20], [20], [20, 1]];
    const init = shapes.map((s) => randn(tf.util.sizeFromShape(s)));
    const gradSteps = Array.from({ length: 5 }, () => shapes.map((s) => randn(tf.util.sizeFromShape(s))));
    const run = async (fused: boolean, shareWeights = false) => {
      await tf.setBackend(BLAS_BACKEND);
      // (copies: on this backend the array becomes the variable's buffer, which the in-place update writes)
      const vars = init.map((v, i) => tf.tidy(() => tf.variable(tf.tensor(v.slice(), shapes[i]), true, `adam_${fused}_${i}`)));
      const opt = fused ? new FusedAdamOptimizer(0.01, 0.9, 0.999) : tf.train.adam(0.01);
      for (const step of gradSteps) {
        const grads: Record<string, tf.Tensor> = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(step[i], shapes[i])]));
        // A clone shares the weight's buffer (as a best-epoch copy does): the step must not write into it.
        const held = shareWeights ? vars.map((v) => ({ clone: tf.clone(v), was: v.dataSync().slice() })) : [];
        opt.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof opt.applyGradients>[0]);
        for (const h of held) assert.deepEqual(h.clone.dataSync(), h.was, 'a shared weight buffer is left alone');
        tf.dispose([...Object.values(grads), ...held.map((h) => h.clone)]);
      }
      const values = vars.map((v) => v.dataSync().slice());
      const state = await opt.getWeights();
      const moments = state.filter((w) => w.name !== 'iter').map((w) => w.tensor.dataSync().slice());
      const iter = state.find((w) => w.name === 'iter')!.tensor.dataSync()[0];
      state.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
      opt.dispose();
      tf.dispose(vars);
      return { values, moments, iter };
    };
    const before = tf.memory().numTensors;
    const stock = await run(false);
    const fused = await run(true);
    const copying = await run(true, true);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    for (const r of [fused, copying]) {
      assert.deepEqual(r.values, stock.values, 'same weights after 5 steps');
      assert.deepEqual(r.moments, stock.moments, 'same moments');
      assert.equal(r.iter, stock.iter);
    }
  });
});
