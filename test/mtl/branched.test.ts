import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHITECTURES } from '../../src/mtl/architectures/index.js';
import type { BranchNode } from '../../src/mtl/architectures/branched.js';
import { compileFusedForward } from '../../src/mtl/fused-forward.js';
import { DENSE_KERNEL, hasKernel } from '../../src/mtl/blas/index.js';
import { asList, trainingViewOf } from '../../src/mtl/model-builder.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { exportArtifacts, importArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { SpecError } from '../../src/mtl/spec-error.js';
import { checkTopology } from '../../src/mtl/topology-check.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';
import { estimateTrainingMemory } from '../../src/mtl/memory-estimate.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { rows, summary } = loadDigits();
const features = PIXELS.map((name) => ({ name }));
const tasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'tags', type: 'multilabel' },
  { name: 'value', type: 'regression' },
];

interface Case {
  title: string;
  tree: BranchNode | undefined;
  /** Variables (kernel, bias per layer) of the nodes that serve two or more tasks. */
  shared: number;
  /** Tasks whose head reads the input itself (a linear model of the features). */
  linear: string[];
  layers: string[];
}

const cases: Case[] = [
  { title: 'default tree (= hard sharing)', tree: undefined, shared: 4, linear: [], layers: ['branch_0_0', 'branch_0_1'] },
  { title: 'full sharing', tree: { layers: [32], tasks: ['digit', 'parity', 'tags', 'value'] }, shared: 2, linear: [], layers: ['branch_0_0'] },
  {
    title: 'separate towers',
    tree: { layers: [], branches: [{ layers: [16], tasks: ['digit'] }, { layers: [16], tasks: ['parity'] }, { layers: [16], tasks: ['tags'] }, { layers: [16], tasks: ['value'] }] },
    shared: 0,
    linear: [],
    layers: ['branch_0_0_0', 'branch_0_1_0', 'branch_0_2_0', 'branch_0_3_0'],
  },
  {
    title: 'groups, a trunk per group',
    tree: { branches: [{ layers: [32], tasks: ['digit', 'value'] }, { layers: [32, 16], tasks: ['parity', 'tags'] }] },
    shared: 6,
    linear: [],
    layers: ['branch_0_0_0', 'branch_0_1_0', 'branch_0_1_1'],
  },
  {
    title: 'shared for one layer, then branch (one branch linear on the trunk)',
    tree: { layers: [32], branches: [{ layers: [16], tasks: ['digit'] }, { layers: [16], tasks: ['parity', 'tags'] }, { layers: [], tasks: ['value'] }] },
    shared: 4,
    linear: [],
    layers: ['branch_0_0', 'branch_0_0_0', 'branch_0_1_0'],
  },
  {
    title: 'a linear task beside a shared trunk (the issue\'s example shape)',
    tree: { layers: [], branches: [{ layers: [32], tasks: ['digit'], branches: [{ layers: [16], tasks: ['parity', 'tags'] }] }, { layers: [], tasks: ['value'] }] },
    shared: 4,
    linear: ['value'],
    layers: ['branch_0_0_0', 'branch_0_0_0_0'],
  },
];

describe('branched architecture: any sharing tree in one model', () => {
  before(useTestBackend);

  for (const c of cases) {
    it(`${c.title}: builds, learns, predicts every task in one pass, size() = parameters, survives save → load`, async (t) => {
      const before = tf.memory().numTensors;
      const spec = resolveSpec(
        { datasetId: 'digits', features, tasks, architecture: { type: 'branched', ...(c.tree ? { tree: c.tree } : {}) }, training: { epochs: 5, batchSize: 32, learningRate: 0.01, earlyStopping: false } },
        summary,
      );
      assert.equal(spec.architecture.type, 'branched');
      const trained = await trainOnRows(spec, rows.slice(0, 500));
      const { model, preprocessing } = trained;
      try {
        const history = trained.result.history;
        const m = trained.result.validationMetrics!;
        t.diagnostic(`loss ${history[0].loss.toFixed(3)} → ${history.at(-1)!.loss.toFixed(3)}; digit acc ${m.digit.accuracy!.toFixed(3)}, parity AUC ${m.parity.auc!.toFixed(3)}, value R² ${m.value.r2!.toFixed(3)}`);
        assert.ok(history.at(-1)!.loss < history[0].loss, `loss ${history[0].loss} → ${history.at(-1)!.loss}`);
        assert.ok(m.digit.accuracy! > 0.5, `digit accuracy ${m.digit.accuracy} (chance 0.1)`);

        // the tree's layers by their stable names, and the heads where the tree puts them
        const names = model.serving.layers.map((l) => l.name);
        for (const name of c.layers) assert.ok(names.includes(name), `layer ${name} in ${names}`);
        assert.equal(names.filter((n) => n.startsWith('branch_')).length, c.layers.length, `branch layers: ${names.filter((n) => n.startsWith('branch_'))}`);
        for (const task of ['digit', 'parity', 'tags', 'value']) {
          const reads = model.serving.getLayer(`${task}_logits`).inboundNodes[0].inboundLayers[0].name;
          assert.equal(reads === 'features', c.linear.includes(task), `${task}_logits reads ${reads}`);
        }
        assert.equal(model.sharedVariables.length, c.shared, `shared: ${model.sharedVariables.map((v) => v.name)}`);

        // size() (the memory estimate's count) is the model's parameter count
        const widths = model.heads.map((h) => h.width);
        const size = ARCHITECTURES.branched.size(spec.architecture as never, preprocessing.inputSize, widths, model.heads.map((h) => h.name));
        assert.equal(size.parameters, model.serving.countParams());
        // the memory estimate counts through size() (its multi-label width is a guess from the column's distinct values)
        assert.ok(estimateTrainingMemory(spec, summary.columns, 500).parameters >= model.serving.countParams());

        // the blas backend's fused forward compiles the tree (Dense layers only) and gives the same logits
        if (hasKernel(DENSE_KERNEL)) {
          const fused = compileFusedForward(model.training);
          assert.ok(fused, 'the fused forward takes a branched tree');
          tf.tidy(() => {
            const x = tf.randomNormal([7, preprocessing.inputSize], 0, 1, 'float32', 3);
            const a = fused(x).map((o) => Array.from(o.dataSync()));
            const b = asList(model.training.predict(x) as tf.Tensor | tf.Tensor[]).map((o) => Array.from(o.dataSync()));
            a.forEach((v, i) => v.forEach((z, j) => assert.ok(Math.abs(z - b[i][j]) < 1e-4, `output ${i}[${j}]: ${z} vs ${b[i][j]}`)));
          });
        }

        const artifacts = await exportArtifacts(model.serving);
        const topology = checkTopology(artifacts.modelTopology, artifacts.weightSpecs);
        assert.deepEqual(topology.outputs.map((o) => o.name), ['digit', 'parity', 'tags', 'value']);
        const loaded = await importArtifacts(artifacts);
        try {
          const instances = rows.slice(600, 620);
          const original = predictInstances(model.serving, preprocessing, instances);
          let predictCalls = 0;
          const realPredict = loaded.predict.bind(loaded);
          loaded.predict = (x, args) => (predictCalls++, realPredict(x, args));
          const reloaded = predictInstances(loaded, preprocessing, instances);
          assert.equal(predictCalls, 1, 'one model.predict call for every task');
          assert.deepEqual(Object.keys(reloaded[0]), ['digit', 'parity', 'tags', 'value']);
          assert.deepEqual(reloaded, original);
          const view = trainingViewOf(loaded, model.heads, spec.architecture);
          assert.deepEqual(view.sharedVariables.map((v) => v.shape), model.sharedVariables.map((v) => v.shape));
        } finally {
          loaded.dispose();
        }
      } finally {
        disposeModel(model);
      }
      assert.equal(tf.memory().numTensors, before, 'every tensor freed');
    });
  }

  it('single-task baselines train each task on its own path through the tree', async () => {
    const spec = resolveSpec(
      {
        datasetId: 'digits',
        features,
        tasks: tasks.filter((t) => t.name !== 'tags'),
        architecture: { type: 'branched', tree: { layers: [16], tasks: ['digit'], branches: [{ layers: [8], tasks: ['parity'] }, { tasks: ['value'] }] } },
        training: { epochs: 2, batchSize: 64, baselines: true, earlyStopping: false },
      },
      summary,
    );
    const trained = await trainOnRows(spec, rows.slice(0, 300));
    try {
      assert.deepEqual(Object.keys(trained.baselines!.tasks), ['digit', 'parity', 'value']);
      for (const b of Object.values(trained.baselines!.tasks)) {
        assert.equal(typeof b.stl, 'number');
        assert.equal(b.linear?.metric, b.metricName);
        assert.equal(typeof b.linear?.value, 'number');
      }
    } finally {
      disposeModel(trained.model);
    }
  });

  it('the tree is checked against the task list: each problem named by its JSON pointer', () => {
    const errorsOf = (tree: unknown) => {
      try {
        resolveSpec({ datasetId: 'digits', features, tasks, architecture: { type: 'branched', tree: tree as BranchNode } }, summary);
        return [];
      } catch (err) {
        assert.ok(err instanceof SpecError);
        return err.errors;
      }
    };
    const errors = errorsOf({ layers: [8], tasks: ['digit', 'nope'], branches: [{ layers: [4], tasks: ['parity', 'digit'] }, { layers: [4] }] });
    assert.deepEqual(errors.map((e) => e.pointer), ['/architecture/tree/tasks/1', '/architecture/tree/branches/0/tasks/1', '/architecture/tree/branches/1', '/architecture/tree']);
    assert.match(errors[0].detail, /unknown task 'nope'/);
    assert.match(errors[1].detail, /'digit' is already placed at \/architecture\/tree\/tasks\/0/);
    assert.match(errors[2].detail, /needs tasks or branches/);
    assert.match(errors[3].detail, /'tags', 'value'/);
    assert.deepEqual(errorsOf({ layers: [8], tasks: ['digit', 'parity', 'tags', 'value'], width: 3 }).map((e) => e.pointer), ['/architecture/tree/width']);
    // nine levels: the ninth node is refused by depth
    let deep: BranchNode = { tasks: ['value'] };
    for (let i = 0; i < 8; i++) deep = { layers: [2], branches: [deep], ...(i === 7 ? { tasks: ['digit', 'parity', 'tags'] } : {}) };
    const depth = errorsOf(deep);
    assert.equal(depth.length, 2, JSON.stringify(depth));
    assert.match(depth[0].detail, /deeper than 8 levels/);
    assert.equal(depth[0].pointer, `/architecture/tree${'/branches/0'.repeat(8)}`);
    // eight levels are fine
    let ok: BranchNode = { tasks: ['value'] };
    for (let i = 0; i < 7; i++) ok = { layers: [2], branches: [ok], ...(i === 6 ? { tasks: ['digit', 'parity', 'tags'] } : {}) };
    assert.deepEqual(errorsOf(ok), []);
  });
});
