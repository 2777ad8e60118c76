import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnInference } from '../../src/mtl/column-inference.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { SpecError } from '../../src/mtl/spec-error.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';

const inference = new ColumnInference();
for (const r of [
  { a: '1', b: 'x', label: 'cat', flag: 'true', empty: '', tags: 'p|q', y: '2.5' },
  { a: '2', b: 'y', label: 'dog', flag: 'false', empty: 'NA', tags: 'q', y: '3' },
  { a: 'NA', b: 'x', label: 'cow', flag: 'true', empty: null, tags: '', y: '1' },
]) inference.add(r);
const dataset = { id: 'd', name: 'my data', rows: 3, columns: inference.columns() };

function errorsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.errors;
  }
  assert.fail('expected a SpecError');
}

describe('column inference', () => {
  it('infers types and counts missing values (empty, NA, null)', () => {
    const byName = Object.fromEntries(dataset.columns.map((c) => [c.name, c]));
    assert.equal(byName.a.type, 'numeric');
    assert.equal(byName.a.missing, 1);
    assert.equal(byName.b.type, 'categorical');
    assert.equal(byName.flag.type, 'boolean');
    assert.equal(byName.empty.type, 'empty');
    assert.equal(byName.empty.missing, 3);
    assert.equal(byName.tags.type, 'multilabel');
    assert.equal(byName.y.type, 'numeric');
    assert.deepEqual(byName.y.sample, [2.5, 3, 1]);
  });
});

describe('spec resolution', () => {
  it('fills defaults and uses every column no task uses as a feature', () => {
    const spec = resolveSpec({ datasetId: 'd', tasks: [{ name: 'label', type: 'classification' }, { name: 'y', type: 'regression', weight: 2 }] }, dataset);
    assert.equal(spec.name, 'my-data');
    assert.deepEqual(spec.features, [
      { name: 'a', type: 'numeric' },
      { name: 'b', type: 'categorical' },
      { name: 'flag', type: 'numeric' },
    ]);
    assert.deepEqual(spec.tasks[1], { name: 'y', column: 'y', type: 'regression', weight: 2 });
    assert.equal(spec.training.epochs, 20);
    assert.deepEqual(spec.training.earlyStopping, { patience: 5, minDelta: 0 });
  });

  it('earlyStopping: false turns it off', () => {
    const spec = resolveSpec({ datasetId: 'd', tasks: [{ name: 'label', type: 'classification' }], training: { earlyStopping: false, epochs: 3 } }, dataset);
    assert.equal(spec.training.earlyStopping, false);
    assert.equal(spec.training.epochs, 3);
  });

  it('names every field that cannot work', () => {
    const errors = errorsOf(() =>
      resolveSpec(
        {
          datasetId: 'd',
          features: [{ name: 'nope' }, { name: 'b', type: 'numeric' }, { name: 'label' }],
          tasks: [
            { name: 'label', type: 'classification' },
            { name: 'e', column: 'empty', type: 'classification' },
            { name: 'r', column: 'b', type: 'regression' },
            { name: 'bin', column: 'label', type: 'binary' },
            { name: 'gone', column: 'missing_column', type: 'binary' },
          ],
        },
        dataset,
      ),
    );
    const pointers = errors.map((e) => e.pointer).sort();
    assert.deepEqual(pointers, ['/features/0/name', '/features/1/name', '/features/1/type', '/features/2/name', '/tasks/1/column', '/tasks/2/column', '/tasks/3/column', '/tasks/4/column']);
    assert.match(errors.find((e) => e.pointer === '/tasks/1/column')!.detail, /no values/);
    assert.match(errors.find((e) => e.pointer === '/tasks/3/column')!.detail, /3 distinct/);
  });

  it('architecture and loss weighting: each variant\'s defaults from its schema; a field of another variant is named', () => {
    const base = { datasetId: 'd', tasks: [{ name: 'label', type: 'classification' as const }] };
    const ple = resolveSpec({ ...base, architecture: { type: 'ple', levels: 2 }, lossWeighting: { strategy: 'dwa' } }, dataset);
    assert.deepEqual(ple.architecture, { type: 'ple', experts: 2, taskExperts: 1, levels: 2, expertLayers: [64], towerLayers: [32], activation: 'relu', dropout: 0 });
    assert.deepEqual(ple.lossWeighting, { strategy: 'dwa', temperature: 2 });
    const plain = resolveSpec(base, dataset);
    assert.deepEqual(plain.architecture, { type: 'hard-sharing', sharedLayers: [128, 64], headLayers: [], activation: 'relu', dropout: 0 });
    assert.deepEqual(plain.lossWeighting, { strategy: 'static' });
    // defaults are copies: changing one resolved spec leaves the next one alone
    plain.architecture.type === 'hard-sharing' && plain.architecture.sharedLayers.push(7);
    assert.deepEqual((resolveSpec(base, dataset).architecture as { sharedLayers: number[] }).sharedLayers, [128, 64]);

    const errors = errorsOf(() =>
      resolveSpec({ ...base, architecture: { type: 'mmoe', sharedLayers: [4], expertLayers: [] }, lossWeighting: { strategy: 'dwa', alpha: 1 } }, dataset),
    );
    assert.deepEqual(errors.map((e) => e.pointer).sort(), ['/architecture/sharedLayers', '/lossWeighting/alpha']);
    assert.match(errors.find((e) => e.pointer === '/architecture/sharedLayers')!.detail, /does not apply to mmoe; it takes experts, expertLayers, towerLayers, activation/);
    assert.match(errors.find((e) => e.pointer === '/lossWeighting/alpha')!.detail, /does not apply to the dwa strategy; it takes temperature/);
    // the architecture's own check (experts need a layer) once the fields are right
    assert.deepEqual(errorsOf(() => resolveSpec({ ...base, architecture: { type: 'mmoe', expertLayers: [] } }, dataset)).map((e) => e.pointer), ['/architecture/expertLayers']);
  });

  it('the gradient-based and loss-based strategies: the papers\' defaults; a value out of range names its field', () => {
    const base = { datasetId: 'd', tasks: [{ name: 'label', type: 'classification' as const }] };
    const resolved = (lossWeighting: TrainingSpec['lossWeighting']) => resolveSpec({ ...base, lossWeighting }, dataset).lossWeighting;
    assert.deepEqual(resolved({ strategy: 'mgda' }), { strategy: 'mgda', normalization: 'none' });
    assert.deepEqual(resolved({ strategy: 'cagrad' }), { strategy: 'cagrad', c: 0.5, rescale: 1 });
    assert.deepEqual(resolved({ strategy: 'imtl' }), { strategy: 'imtl' });
    assert.deepEqual(resolved({ strategy: 'nash-mtl' }), { strategy: 'nash-mtl', maxNorm: 1, iterations: 20 });
    assert.deepEqual(resolved({ strategy: 'famo' }), { strategy: 'famo', weightLearningRate: 0.025, weightDecay: 0.01 });
    assert.deepEqual(resolved({ strategy: 'aligned-mtl' }), { strategy: 'aligned-mtl', scale: 'min' });
    assert.deepEqual(resolved({ strategy: 'rlw' }), { strategy: 'rlw' });
    assert.deepEqual(resolved({ strategy: 'db-mtl' }), { strategy: 'db-mtl', beta: 0.9, betaSigma: 0 });
    assert.deepEqual(resolved({ strategy: 'mgda', normalization: 'loss+' }), { strategy: 'mgda', normalization: 'loss+' });
    const cases: [TrainingSpec['lossWeighting'], string][] = [
      [{ strategy: 'cagrad', c: 1 }, '/lossWeighting/c'],
      [{ strategy: 'cagrad', rescale: 3 }, '/lossWeighting/rescale'],
      [{ strategy: 'mgda', normalization: 'l3' as 'l2' }, '/lossWeighting/normalization'],
      [{ strategy: 'nash-mtl', iterations: 0 }, '/lossWeighting/iterations'],
      [{ strategy: 'nash-mtl', maxNorm: -1 }, '/lossWeighting/maxNorm'],
      [{ strategy: 'famo', weightLearningRate: 0 }, '/lossWeighting/weightLearningRate'],
      [{ strategy: 'aligned-mtl', scale: 'max' as 'min' }, '/lossWeighting/scale'],
      [{ strategy: 'db-mtl', beta: 1 }, '/lossWeighting/beta'],
      [{ strategy: 'db-mtl', c: 0.5 }, '/lossWeighting/c'],
    ];
    for (const [lossWeighting, pointer] of cases) {
      assert.deepEqual(errorsOf(() => resolveSpec({ ...base, lossWeighting }, dataset)).map((e) => e.pointer), [pointer], JSON.stringify(lossWeighting));
    }
  });
});

describe('cascaded tasks (dependsOn, mode, calibration)', () => {
  const clicks = new ColumnInference();
  for (const r of [
    { x: '1', click: '1', buy: '1', cart: '1', colour: 'red' },
    { x: '2', click: '1', buy: '0', cart: '0', colour: 'blue' },
    { x: '3', click: '0', buy: '0', cart: '0', colour: 'green' },
  ]) clicks.add(r);
  const data = { id: 'c', name: 'clicks', rows: 3, columns: clicks.columns() };
  const base = { datasetId: 'c', features: [{ name: 'x' }] };

  it('resolves dependsOn with mode (default esmm) and, for aitm, calibration (default 0.6); other tasks have none of these fields', () => {
    const spec = resolveSpec(
      {
        ...base,
        tasks: [
          { name: 'click', type: 'binary' },
          { name: 'cart', type: 'binary', dependsOn: 'click' },
          { name: 'buy', type: 'binary', dependsOn: 'cart', mode: 'aitm' },
        ],
      },
      data,
    );
    assert.deepEqual(spec.tasks, [
      { name: 'click', column: 'click', type: 'binary', weight: 1 },
      { name: 'cart', column: 'cart', type: 'binary', weight: 1, dependsOn: 'click', mode: 'esmm' },
      { name: 'buy', column: 'buy', type: 'binary', weight: 1, dependsOn: 'cart', mode: 'aitm', calibration: 0.6 },
    ]);
    const tuned = resolveSpec({ ...base, tasks: [{ name: 'click', type: 'binary' }, { name: 'buy', type: 'binary', dependsOn: 'click', mode: 'aitm', calibration: 0 }] }, data);
    assert.equal(tuned.tasks[1].calibration, 0);
  });

  it('names /tasks/<i>/dependsOn, /mode and /calibration for each problem', () => {
    const cases: [TrainingSpec['tasks'], string, RegExp][] = [
      [[{ name: 'buy', type: 'binary', dependsOn: 'ghost' }], '/tasks/0/dependsOn', /no task named 'ghost'/],
      [[{ name: 'buy', type: 'binary', dependsOn: 'buy' }], '/tasks/0/dependsOn', /cannot depend on itself/],
      [[{ name: 'colour', type: 'classification' }, { name: 'buy', type: 'binary', dependsOn: 'colour' }], '/tasks/1/dependsOn', /only a binary task can depend on a binary task; 'buy' is binary and 'colour' is classification/],
      [[{ name: 'click', type: 'binary' }, { name: 'x', type: 'regression', dependsOn: 'click' }], '/tasks/1/dependsOn', /'x' is regression/],
      [[{ name: 'click', type: 'binary', mode: 'esmm' }], '/tasks/0/mode', /only to a task with dependsOn/],
      [[{ name: 'click', type: 'binary', calibration: 1 }], '/tasks/0/calibration', /only to a task with dependsOn/],
      [[{ name: 'click', type: 'binary' }, { name: 'buy', type: 'binary', dependsOn: 'click', calibration: 1 }], '/tasks/1/calibration', /only to mode "aitm", not "esmm"/],
    ];
    for (const [tasks, pointer, detail] of cases) {
      const errors = errorsOf(() => resolveSpec({ datasetId: 'c', features: [{ name: 'cart' }], tasks }, data));
      const error = errors.find((e) => e.pointer === pointer);
      assert.ok(error, `${pointer} in ${JSON.stringify(errors)}`);
      assert.match(error.detail, detail);
    }
  });

  it('refuses cycles, naming every task on the cycle', () => {
    const errors = errorsOf(() =>
      resolveSpec(
        {
          ...base,
          tasks: [
            { name: 'click', type: 'binary', dependsOn: 'buy' },
            { name: 'cart', type: 'binary', dependsOn: 'click' },
            { name: 'buy', type: 'binary', dependsOn: 'cart' },
          ],
        },
        data,
      ),
    );
    assert.deepEqual(errors.map((e) => e.pointer), ['/tasks/0/dependsOn', '/tasks/1/dependsOn', '/tasks/2/dependsOn']);
    assert.match(errors[0].detail, /cycle: 'click' → 'buy' → 'cart' → 'click'/);
  });
});
