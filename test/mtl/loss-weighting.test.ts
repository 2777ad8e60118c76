import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createLossWeighting } from '../../src/mtl/loss-weighting/index.js';
import { DynamicWeightAverage } from '../../src/mtl/loss-weighting/dwa.js';
import { GradNormWeights } from '../../src/mtl/loss-weighting/gradnorm.js';
import { projectConflictingGradients } from '../../src/mtl/loss-weighting/pcgrad.js';
import { UncertaintyWeighting } from '../../src/mtl/loss-weighting/uncertainty.js';
import { Mgda, minNormWeights } from '../../src/mtl/loss-weighting/mgda.js';
import { CaGrad, cagradCoefficients, projectOnSimplex } from '../../src/mtl/loss-weighting/cagrad.js';
import { Imtl, imtlWeights } from '../../src/mtl/loss-weighting/imtl.js';
import { NashMtl, nashWeights } from '../../src/mtl/loss-weighting/nash-mtl.js';
import { Famo, famoLossWeights } from '../../src/mtl/loss-weighting/famo.js';
import { AlignedMtl, alignedWeights, symmetricEigen } from '../../src/mtl/loss-weighting/aligned-mtl.js';
import { RandomLossWeighting, randomWeights } from '../../src/mtl/loss-weighting/rlw.js';
import { DbMtl } from '../../src/mtl/loss-weighting/db-mtl.js';
import type { LossWeighting } from '../../src/mtl/loss-weighting/index.js';
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

/** The Gram matrix G Gᵀ of plain vectors. */
const gramOf = (g: number[][]) => g.map((a) => g.map((b) => a.reduce((acc, x, k) => acc + x * b[k], 0)));
const dot = (a: number[], b: number[]) => a.reduce((acc, x, k) => acc + x * b[k], 0);
const closeAll = (a: number[], b: number[], eps = 1e-5) => {
  assert.equal(a.length, b.length, `${a} vs ${b}`);
  a.forEach((x, i) => close(x, b[i], eps));
};

/**
 * One step of a gradient strategy on hand-made task gradients (rows of `g`): observe, then the
 * shared weights' combined gradient, as numbers; checks that no tensor is left behind (but the
 * `kept` ones the strategy holds on to: DB-MTL's moving averages).
 */
function step(w: LossWeighting, g: number[][], losses: number[] = g.map(() => 1), kept = 0): number[] {
  const before = tf.memory().numTensors;
  const flat = g.map((x) => tf.tensor1d(x));
  const gradients = { flat, losses };
  w.observe?.(gradients);
  const combined = w.combineGradients!(gradients, createRng(1));
  const out = Array.from(combined.dataSync());
  tf.dispose([combined, ...flat]);
  assert.equal(tf.memory().numTensors, before + kept, 'no tensor left behind');
  return out;
}

describe('the methods users compare against (hand-checked gradient sets)', () => {
  before(useTestBackend);

  it('mgda: Frank-Wolfe finds the min-norm point of the convex hull', () => {
    // Orthogonal unit gradients: ‖γe₁ + (1−γ)e₂‖² = γ² + (1−γ)² is least at γ = ½.
    closeAll(minNormWeights(gramOf([[1, 0], [0, 1]])), [0.5, 0.5]);
    // g₁ = (1,0), g₂ = (0,2): γ² + 4(1−γ)² is least at γ = 4/5; the point (0.8, 0.4).
    closeAll(minNormWeights(gramOf([[1, 0], [0, 2]])), [0.8, 0.2]);
    // Opposed gradients (2,0) and (−1,0): 0 is in the hull, at α = (1/3, 2/3).
    closeAll(minNormWeights(gramOf([[2, 0], [-1, 0]])), [1 / 3, 2 / 3]);
    // Three tasks, the answer on a face: hull{e₁, e₂, e₁+e₂} is nearest the origin at (½,½) = ½e₁ + ½e₂.
    closeAll(minNormWeights(gramOf([[1, 0], [0, 1], [1, 1]])), [0.5, 0.5, 0], 1e-6);
    // Three unit gradients 120° apart: their mean is 0.
    closeAll(minNormWeights(gramOf([[1, 0], [-0.5, Math.sqrt(3) / 2], [-0.5, -Math.sqrt(3) / 2]])), [1 / 3, 1 / 3, 1 / 3]);

    const w = new Mgda([1, 1], 'none');
    closeAll(step(w, [[1, 0], [0, 2]]), [0.8, 0.4]);
    closeAll(step(w, [[1, 0], [-1, 0]]), [0, 0]); // opposed: no common descent direction, the update is 0
    closeAll(w.epochWeights(), [(0.8 + 0.5) / 2, (0.2 + 0.5) / 2]); // the epoch's mean α
    // l2: the gradients become e₁ and e₂ first, α = (½,½), the update Σ α_t ĝ_t = (½,½).
    closeAll(step(new Mgda([1, 1], 'l2'), [[1, 0], [0, 2]]), [0.5, 0.5]);
    // loss: ĝ = (1,0)/1 and (0,2)/4 = (0,½); γ² + ¼(1−γ)² is least at γ = 1/5; the point (0.2, 0.4).
    closeAll(step(new Mgda([1, 1], 'loss'), [[1, 0], [0, 2]], [1, 4]), [0.2, 0.4]);
    // A task with a zero gradient (no labels in the batch) takes no part.
    const absent = new Mgda([1, 1, 1], 'none');
    closeAll(step(absent, [[1, 0], [0, 0], [0, 1]]), [0.5, 0.5]);
    closeAll(absent.epochWeights(), [0.5, 0, 0.5]);
  });

  it('cagrad: c = 0 is the mean gradient; otherwise the paper\'s update, rescaled by 1 + c²', () => {
    closeAll(step(new CaGrad([1, 1], 0, 1), [[1, 0], [-1, 1]]), [0, 0.5]);
    // Orthogonal unit gradients, c = ½: ‖g₀‖ = √½, the dual's w = (½,½) by symmetry, g_w = g₀,
    // λ = c‖g₀‖/‖g_w‖ = ½, d = (1 + ½)·(½,½) = (¾,¾), divided by 1 + ¼: (0.6, 0.6).
    closeAll(step(new CaGrad([1, 1], 0.5, 1), [[1, 0], [0, 1]]), [0.6, 0.6]);
    // g₁ = (1,0), g₂ = (0,2), c = ½: g₀ = (½,1), ‖g₀‖ = √5/2, radius r = √5/4. The dual
    // F(s) = ½s + 2(1−s) + r√(s² + 4(1−s)²) (w = (s, 1−s)) has F'(1) = −1.5 + r < 0: w = (1, 0),
    // g_w = g₁, λ = r, d = g₀ + r·g₁ = (½ + √5/4, 1), /1.25 = (0.4 + √5/5, 0.8).
    const r = Math.sqrt(5) / 4;
    closeAll(step(new CaGrad([1, 1], 0.5, 1), [[1, 0], [0, 2]]), [0.4 + Math.sqrt(5) / 5, 0.8]);
    closeAll(cagradCoefficients(gramOf([[1, 0], [0, 2]]), 0.5, 0), [0.5 + r, 0.5]); // rescale 0: no division
    closeAll(cagradCoefficients(gramOf([[1, 0], [0, 2]]), 0.5, 2), [(0.5 + r) / 1.5, 0.5 / 1.5]); // rescale 2: ÷ (1 + c)
    // The simplex projection: (0.5, 0.5, 0.5) − ⅙ each; (2, 0) → (1, 0).
    closeAll(projectOnSimplex([0.5, 0.5, 0.5]), [1 / 3, 1 / 3, 1 / 3]);
    closeAll(projectOnSimplex([2, 0]), [1, 0]);
  });

  it('imtl: IMTL-G\'s closed form gives the combined gradient equal projections on every task\'s unit gradient', () => {
    // g₁ = (1,0), g₂ = (0,2): g = (α₁, 2α₂) projects α₁ on e₁ and 2α₂ on e₂; equal with α₁ + α₂ = 1: α = (⅔, ⅓).
    closeAll(imtlWeights(gramOf([[1, 0], [0, 2]])), [2 / 3, 1 / 3]);
    closeAll(step(new Imtl([1, 1]), [[1, 0], [0, 2]]), [2 / 3, 2 / 3]);
    // g₁ = (1,0), g₂ = (−1,1): g = (α₁ − α₂, α₂); on u₁: α₁ − α₂, on u₂ = (−1,1)/√2: (2α₂ − α₁)/√2.
    // Equal: α₁ = √2·α₂, so α = (2 − √2, √2 − 1).
    closeAll(imtlWeights(gramOf([[1, 0], [-1, 1]])), [2 - Math.sqrt(2), Math.sqrt(2) - 1]);
    // Three tasks in 3-D: equal projections and Σα = 1.
    const g = [[1, 0.2, 0], [-0.3, 2, 0.5], [0.1, -0.4, 0.7]];
    const alpha = imtlWeights(gramOf(g));
    close(alpha.reduce((a, b) => a + b, 0), 1);
    const combined = [0, 1, 2].map((k) => g.reduce((acc, row, t) => acc + alpha[t] * row[k], 0));
    const projections = g.map((row) => dot(combined, row) / Math.sqrt(dot(row, row)));
    closeAll(projections, [projections[0], projections[0], projections[0]]);
  });

  it('nash-mtl: the solver solves Gᵀ G α = 1/α; orthogonal gradients get α_t = 1/‖g_t‖', () => {
    // Orthogonal, norms 1 and 2: M = diag(1, 4), α_t² ‖g_t‖² = 1.
    closeAll(nashWeights([[1, 0], [0, 4]], [1, 1]), [1, 0.5], 1e-9);
    // M = [[1, ½], [½, 1]]: by symmetry α₁ = α₂ = x with (1 + ½)x = 1/x, x = √(2/3).
    closeAll(nashWeights([[1, 0.5], [0.5, 1]], [1, 1]), [Math.sqrt(2 / 3), Math.sqrt(2 / 3)], 1e-9);
    // Conflicting, M = [[1, −½], [−½, 1]]: (1 − ½)x = 1/x, x = √2.
    closeAll(nashWeights([[1, -0.5], [-0.5, 1]], [1, 1]), [Math.SQRT2, Math.SQRT2], 1e-9);
    // Three tasks, from a far start: the residual M α − 1/α vanishes.
    const m = gramOf([[1, 0.2, 0], [-0.3, 2, 0.5], [0.1, -0.4, 0.7]]);
    const alpha = nashWeights(m, [10, 0.01, 3], 50);
    alpha.forEach((a, i) => close(dot(m[i], alpha), 1 / a, 1e-7));

    // The strategy scales the Gram matrix to unit Frobenius norm (√17 here) as the reference:
    // α = 17^¼·(1, ½); the update Σ α_t g_t = 17^¼·(1, 1) is clipped to norm 1.
    const w = new NashMtl([1, 1], 1, 20);
    closeAll(step(w, [[1, 0], [0, 2]]), [Math.SQRT1_2, Math.SQRT1_2]);
    closeAll(w.currentWeights(), [17 ** 0.25, 17 ** 0.25 / 2]);
    closeAll(step(new NashMtl([1, 1], 0, 20), [[1, 0], [0, 2]]), [17 ** 0.25, 17 ** 0.25]); // maxNorm 0: no clipping
  });

  it('famo: w_t = z_t / (c·L_t); the logits move against the task whose loss fell fastest', () => {
    // z = (½,½), losses (1, 4): c = ½/1 + ½/4 = ⅝, w = (½/⅝, ⅛/⅝) = (0.8, 0.2).
    closeAll(famoLossWeights([0, 0], [1, 4]), [0.8, 0.2]);
    closeAll(famoLossWeights([0, 0, 0], [1, 0, 1]), [0.5, 0, 0.5]); // a task without labels (loss 0) takes no part
    const w = new Famo([1, 1], 0.025, 0);
    // Task 1's loss halves, task 2's stays: δ = (ln 2, 0), ∇ξ = z ⊙ (δ − zᵀδ) = (ln2/4, −ln2/4);
    // Adam's first step moves each logit by the learning rate against its gradient's sign.
    w.update([1, 1], [0.5, 1]);
    closeAll(w.taskLogits(), [-0.025, 0.025]);
    // combine: Σ w_t L_t with those weights, and its state survives a checkpoint.
    const value = tf.tidy(() => w.combine([tf.scalar(1), tf.scalar(4)]).dataSync()[0]);
    const z1 = 1 / (1 + Math.exp(0.05));
    const c = z1 / 1 + (1 - z1) / 4;
    close(value, (z1 / c) * 1 + ((1 - z1) / 4 / c) * 4);
    const restored = new Famo([1, 1], 0.025, 0);
    restored.setState(structuredClone(w.getState()));
    closeAll(restored.taskLogits(), w.taskLogits());
  });

  it('aligned-mtl: orthogonal gradients of equal norm are summed; otherwise each is rescaled to the smallest singular value', () => {
    closeAll(step(new AlignedMtl([1, 1], 'min'), [[1, 0], [0, 1]]), [1, 1]);
    // Orthogonal, norms 1 and 2: σ_min = 1, α = (1/1, 1/2), the aligned gradients e₁ and e₂.
    closeAll(alignedWeights(gramOf([[1, 0], [0, 2]]), 'min'), [1, 0.5]);
    closeAll(step(new AlignedMtl([1, 1], 'min'), [[1, 0], [0, 2]]), [1, 1]);
    // rmse: σ² = (1 + 4)/2, α = √2.5·(1, ½); median (lower) = the smaller one here.
    closeAll(alignedWeights(gramOf([[1, 0], [0, 2]]), 'rmse'), [Math.sqrt(2.5), Math.sqrt(2.5) / 2]);
    closeAll(alignedWeights(gramOf([[1, 0], [0, 2]]), 'median'), [1, 0.5]);
    // g₁ = (1,0), g₂ = (1,1): GGᵀ = [[1,1],[1,2]] has eigenvalues (3 ± √5)/2; the aligned gradients
    // are orthogonal with norm √λ_min each, so ‖Σ α_t g_t‖² = 2·λ_min = 3 − √5.
    const { values } = symmetricEigen([[1, 1], [1, 2]]);
    closeAll([...values].sort(), [(3 - Math.sqrt(5)) / 2, (3 + Math.sqrt(5)) / 2].sort());
    const sum = step(new AlignedMtl([1, 1], 'min'), [[1, 0], [1, 1]]);
    close(dot(sum, sum), 3 - Math.sqrt(5));
    // Opposed gradients: GGᵀ has rank 1 along (1, −1), whose entries sum to 0: α = 0, no update.
    closeAll(step(new AlignedMtl([1, 1], 'min'), [[1, 0], [-1, 0]]), [0, 0]);
  });

  it('rlw: softmax of standard normals from the step\'s seeded stream, times the static weights', () => {
    const a = randomWeights([1, 1, 1], createRng(5));
    assert.deepEqual(randomWeights([1, 1, 1], createRng(5)), a, 'the same stream, the same weights');
    close(a.reduce((x, y) => x + y, 0), 1);
    assert.ok(a.every((x) => x > 0));
    closeAll(randomWeights([2, 1, 1], createRng(5)), [2 * a[0], a[1], a[2]]);
    // Over many draws each task's mean weight is 1/T.
    const rng = createRng(9);
    const mean = [0, 0, 0];
    for (let i = 0; i < 20000; i++) randomWeights([1, 1, 1], rng).forEach((x, t) => (mean[t] += x / 20000));
    closeAll(mean, [1 / 3, 1 / 3, 1 / 3], 0.01);
    // combine uses this step's draw; the history gets the epoch's mean.
    const w = new RandomLossWeighting([1, 1, 1]);
    const value = tf.tidy(() => w.combine([tf.scalar(1), tf.scalar(2), tf.scalar(3)], createRng(5)).dataSync()[0]);
    close(value, a[0] + 2 * a[1] + 3 * a[2]);
    const b = randomWeights([1, 1, 1], createRng(6));
    tf.tidy(() => w.combine([tf.scalar(1), tf.scalar(2), tf.scalar(3)], createRng(6)));
    closeAll(w.epochWeights(), a.map((x, t) => (x + b[t]) / 2));
  });

  it('db-mtl: log-loss gradients, their moving average, each scaled to the largest norm; the averages survive a checkpoint', () => {
    const tensors = tf.memory().numTensors;
    const w = new DbMtl([1, 1], 0.9, 0);
    // Losses 1 and 2: ∇log L = g/L = (1,0) and (0,2) — the heads train on log L too (weights 1/L).
    // Step 1: averages 0.1·(1,0), 0.1·(0,2) (from 0, β = 0.9); norms 0.1, 0.2; α = (2, 1); update (0.2, 0.2).
    closeAll(step(w, [[1, 0], [0, 4]], [1, 2], 1), [0.2, 0.2]);
    closeAll(w.currentWeights(), [1, 0.5]);
    closeAll(w.epochWeights(), [2, 1]);
    const saved = structuredClone(w.getState());
    // Step 2, same gradients: averages 0.1·g + 0.9·0.1·g = 0.19·g; update (0.38, 0.38).
    closeAll(step(w, [[1, 0], [0, 4]], [1, 2]), [0.38, 0.38]);
    const resumed = new DbMtl([1, 1], 0.9, 0);
    resumed.setState(saved);
    closeAll(step(resumed, [[1, 0], [0, 4]], [1, 2]), [0.38, 0.38]);
    // σ = 1: step 2 uses β/2 = 0.45, averages 0.55·g + 0.45·0.1·g = 0.595·g; update (1.19, 1.19).
    const decaying = new DbMtl([1, 1], 0.9, 1);
    step(decaying, [[1, 0], [0, 4]], [1, 2], 1);
    closeAll(step(decaying, [[1, 0], [0, 4]], [1, 2]), [1.19, 1.19]);
    [w, resumed, decaying].forEach((x) => x.dispose());
    assert.equal(tf.memory().numTensors, tensors, 'dispose frees the averages');
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
