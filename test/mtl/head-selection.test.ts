import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHITECTURE_TYPES } from '../../src/mtl/architectures/index.js';
import { selectHeads } from '../../src/mtl/head-selection.js';
import { buildModel, type HeadSpec } from '../../src/mtl/model-builder.js';
import { forwardPass } from '../../src/mtl/predictor.js';
import { exportArtifacts } from '../../src/mtl/serialization.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { checkTopology, TopologyError } from '../../src/mtl/topology-check.js';
import { tf, useTestBackend } from '../helpers/backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { summary } = loadDigits();
const heads: HeadSpec[] = [
  { name: 'digit', type: 'classification', width: 10 },
  { name: 'parity', type: 'binary', width: 1 },
  { name: 'value', type: 'regression', width: 1 },
];
/** Every architecture of the registry with its defaults, as a spec naming only its type resolves to. */
const architectures = ARCHITECTURE_TYPES.map(
  (type) =>
    resolveSpec({ datasetId: 'digits', features: PIXELS.map((name) => ({ name })), tasks: heads.map((h) => ({ name: h.name, type: h.type })), architecture: { type } }, summary).architecture,
);
const x = Float32Array.from({ length: 5 * 64 }, (_, i) => Math.sin(i) * 2);

describe('selectHeads: a sub-model with only some heads', () => {
  before(useTestBackend);

  for (const architecture of architectures) {
    it(`${architecture.type}: the selected heads give the full model's numbers, the others are not computed, nothing leaks`, () => {
      const baseline = tf.memory().numTensors;
      const model = buildModel({ inputSize: 64, architecture, heads, seed: 5 });
      const withModel = tf.memory().numTensors;
      const full = forwardPass(model.serving, 64, x, 5);
      for (const subset of [[0], [1, 2], [2], [0, 2]]) {
        const sub = selectHeads(model.serving, subset);
        const calls = new Map<string, number>();
        for (const h of heads) {
          const layer = model.serving.getLayer(`${h.name}_logits`);
          const call = layer.call.bind(layer);
          layer.call = (inputs, kwargs) => (calls.set(h.name, (calls.get(h.name) ?? 0) + 1), call(inputs, kwargs));
        }
        const outputs = forwardPass(sub, 64, x, 5);
        assert.equal(outputs.length, subset.length);
        subset.forEach((h, i) => assert.deepEqual(outputs[i], full[h], `head ${heads[h].name}`));
        heads.forEach((h, i) => assert.equal(calls.get(h.name) ?? 0, subset.includes(i) ? 1 : 0, `${h.name}_logits ran ${calls.get(h.name) ?? 0} times for subset [${subset}]`));
        for (const h of heads) delete (model.serving.getLayer(`${h.name}_logits`) as { call?: unknown }).call; // back to the prototype's
      }
      assert.equal(tf.memory().numTensors, withModel, 'sub-models add no tensors');
      model.serving.dispose();
      assert.equal(tf.memory().numTensors, baseline, 'disposing the serving model frees everything the sub-models used');
    });
  }

  it('refuses an empty selection and heads the model does not have', () => {
    const model = buildModel({ inputSize: 64, architecture: architectures[0], heads, seed: 5 });
    assert.throws(() => selectHeads(model.serving, []), /at least one head/);
    assert.throws(() => selectHeads(model.serving, [3]), /no head 3/);
    model.serving.dispose();
  });
});

describe('checkTopology: a topology from outside, checked before tfjs allocates anything', () => {
  before(useTestBackend);

  for (const architecture of architectures) {
    it(`${architecture.type}: what the engine exports passes, with its input width and outputs`, async () => {
      const model = buildModel({ inputSize: 64, architecture, heads, seed: 5 });
      const { modelTopology, weightSpecs } = await exportArtifacts(model.serving);
      model.serving.dispose();
      const summary = checkTopology(modelTopology, weightSpecs);
      assert.equal(summary.inputWidth, 64);
      assert.deepEqual(summary.outputs, [{ name: 'digit', width: 10 }, { name: 'parity', width: 1 }, { name: 'value', width: 1 }]);
    });
  }

  it('refuses layers that would allocate what the manifest does not hold, unknown layer classes, and loose weights', async () => {
    const model = buildModel({ inputSize: 64, architecture: architectures[0], heads, seed: 5 });
    const { modelTopology, weightSpecs } = await exportArtifacts(model.serving);
    model.serving.dispose();
    const mutate = (change: (layers: any[]) => void) => {
      const t = structuredClone(modelTopology) as any;
      change(t.config.layers);
      return t;
    };
    const refuse = (topology: unknown, pattern: RegExp, specs = weightSpecs) =>
      assert.throws(() => checkTopology(topology, specs), (err: Error) => err instanceof TopologyError && pattern.test(err.message));
    const dense = (layers: any[]) => layers.find((l) => l.class_name === 'Dense');
    refuse(mutate((l) => (dense(l).config.units = 1_000_000)), /layer 'shared_0' needs weight 'shared_0\/kernel' of shape \[64,1000000\]/);
    refuse(mutate((l) => (l[0].config.batch_input_shape = [null, 1e7])), /needs weight 'shared_0\/kernel' of shape \[10000000,/);
    refuse(mutate((l) => (dense(l).class_name = 'Conv2D')), /is a "Conv2D"/);
    refuse(mutate((l) => l.push({ ...l.at(-1), name: 'extra', inbound_nodes: [[['nowhere', 0, 0, {}]]] })), /uses 'nowhere'/);
    refuse(modelTopology, /manifest has weight 'stray'/, [...weightSpecs, { name: 'stray', shape: [1], dtype: 'float32' }]);
    refuse(modelTopology, /needs weight 'shared_0\/bias'/, weightSpecs.filter((w) => w.name !== 'shared_0/bias'));
    refuse({ class_name: 'Sequential', config: {} }, /functional layers model/);
  });
});
