import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { compileFusedForward } from '../../src/mtl/fused-forward.js';
import { hasKernel, MASKED_LOSS_KERNEL } from '../../src/mtl/blas/index.js';
import { buildModel, type HeadSpec } from '../../src/mtl/model-builder.js';
import { FixedWeights } from '../../src/mtl/loss-weighting/loss-weighting.js';
import { createRng } from '../../src/mtl/rng.js';
import type { ResolvedArchitecture } from '../../src/mtl/spec.js';
import { trainStep, type Batch, type StepContext } from '../../src/mtl/training-step.js';
import { randomNormals } from '../helpers/numeric.js';
import { tf, useTestBackend } from '../helpers/backend.js';

/**
 * The step of a strategy that needs every task's gradient takes the update from the per-task
 * passes alone (no pass over the weighted sum): with the plain combination Σ w_t g_t it must move
 * every weight exactly as the static step does.
 */
class SumOfTaskGradients extends FixedWeights {
  override readonly needsTaskGradients = true;
}

const heads: HeadSpec[] = [
  { name: 'digit', type: 'classification', width: 3 },
  { name: 'flag', type: 'binary', width: 1 },
  { name: 'value', type: 'regression', width: 1 },
];

function batch(rows: number): Batch {
  const rand = createRng(11);
  const randn = randomNormals(rand);
  const mask = (p: number) => tf.tensor1d(Float32Array.from({ length: rows }, () => (rand() < p ? 1 : 0)));
  return {
    x: tf.tensor2d(randn(rows * 6), [rows, 6]),
    labels: [
      { values: tf.tensor1d(Int32Array.from({ length: rows }, () => Math.floor(rand() * 3)), 'int32'), mask: mask(0.8) },
      { values: tf.tensor1d(Float32Array.from({ length: rows }, () => (rand() < 0.5 ? 1 : 0))), mask: mask(1) },
      { values: tf.tensor1d(randn(rows)), mask: mask(0.6) },
    ],
  };
}

/** The model's weights after one step of plain SGD with this strategy, from the same start. */
function afterOneStep(architecture: ResolvedArchitecture, weighting: FixedWeights, optimizer: tf.Optimizer): Float32Array[] {
  const model = buildModel({ inputSize: 6, architecture, heads, seed: 5 });
  const variables = model.training.trainableWeights.map((w) => w.read() as tf.Variable);
  const ctx: StepContext = {
    model, optimizer, weighting, allVariables: variables, shared: model.sharedVariables, rng: createRng(1),
    forward: compileFusedForward(model.training), fusedLoss: hasKernel(MASKED_LOSS_KERNEL),
  };
  const b = batch(40);
  tf.tidy(() => trainStep(ctx, b, null)).dispose(); // the step's loss statistics
  const out = variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  tf.dispose([b.x, ...b.labels.flatMap((l) => [l.values, l.mask])]);
  model.serving.dispose();
  return out;
}

describe('the task-gradient step', () => {
  // Plain SGD, so equal updates mean equal gradients (one optimizer: tfjs's SGD keeps its rate as a tensor).
  let sgd: tf.Optimizer;
  before(async () => {
    await useTestBackend();
    sgd = tf.train.sgd(0.5);
  });

  for (const architecture of [
    { type: 'hard-sharing', sharedLayers: [8, 4], headLayers: [], activation: 'relu' },
    // cross-stitch units are the shared variables; the tie penalty's gradient reaches the towers
    { type: 'soft-sharing', sharedLayers: [8, 4], headLayers: [], activation: 'relu', crossStitch: true, tie: 0.1 },
    { type: 'mmoe', experts: 2, expertLayers: [6], towerLayers: [4], activation: 'relu' },
    // nothing shared: no task gradients to take, Σ w_t L_t
    { type: 'soft-sharing', sharedLayers: [8, 4], headLayers: [], activation: 'relu', crossStitch: false, tie: 0 },
  ] as ResolvedArchitecture[]) {
    it(`with Σ w_t g_t updates every weight as the static step (${architecture.type}${'crossStitch' in architecture && !architecture.crossStitch ? ', nothing shared' : ''})`, () => {
      const before = tf.memory().numTensors;
      const expected = afterOneStep(architecture, new FixedWeights([1, 0.5, 2]), sgd);
      const got = afterOneStep(architecture, new SumOfTaskGradients([1, 0.5, 2]), sgd);
      assert.equal(got.length, expected.length);
      got.forEach((w, i) => w.forEach((x, k) => assert.ok(Math.abs(x - expected[i][k]) < 1e-5, `variable ${i}[${k}]: ${x} vs ${expected[i][k]}`)));
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    });
  }
});
