import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFeatures, encodeLabels, fitPreprocessing, FeatureValueError } from '../../src/mtl/preprocessing.js';
import type { ResolvedSpec } from '../../src/mtl/spec.js';
import { DEFAULT_ARCHITECTURE, DEFAULT_TRAINING } from '../../src/mtl/spec.js';

const spec: ResolvedSpec = {
  name: 'p',
  datasetId: 'd',
  features: [
    { name: 'x', type: 'numeric' },
    { name: 'colour', type: 'categorical' },
  ],
  tasks: [
    { name: 'kind', column: 'kind', type: 'classification', weight: 1 },
    { name: 'ok', column: 'ok', type: 'binary', weight: 1 },
    { name: 'tags', column: 'tags', type: 'multilabel', weight: 1 },
    { name: 'price', column: 'price', type: 'regression', weight: 1 },
  ],
  architecture: DEFAULT_ARCHITECTURE,
  lossWeighting: { strategy: 'static' },
  training: DEFAULT_TRAINING,
};

const rows = [
  { x: 1, colour: 'red', kind: 'b', ok: 'yes', tags: 'a|b', price: 10 },
  { x: 3, colour: 'blue', kind: 'a', ok: 'no', tags: 'b', price: null },
  { x: null, colour: 'red', kind: null, ok: 'yes', tags: null, price: 30 },
];

describe('preprocessing', () => {
  const prep = fitPreprocessing(spec, rows);

  it('standardises numbers with training mean/std and one-hots categories with a slot for unseen/missing', () => {
    assert.deepEqual(prep.features[0], { name: 'x', type: 'numeric', mean: 2, std: 1 });
    assert.deepEqual(prep.features[1], { name: 'colour', type: 'categorical', categories: ['blue', 'red'] });
    assert.equal(prep.inputSize, 1 + 3);
    const x = encodeFeatures(prep, [{ x: 3, colour: 'red' }, { x: null, colour: 'green' }, { x: '1', colour: null }]);
    assert.deepEqual(Array.from(x), [1, 0, 1, 0, /* missing x → mean → 0 */ 0, 0, 0, 1, -1, 0, 0, 1]);
  });

  it('keeps labels as written, ordered, with positive label last for binary', () => {
    assert.deepEqual(prep.tasks[0], { task: 'kind', column: 'kind', type: 'classification', labels: ['a', 'b'] });
    assert.deepEqual(prep.tasks[1], { task: 'ok', column: 'ok', type: 'binary', labels: ['no', 'yes'] });
    assert.deepEqual(prep.tasks[2], { task: 'tags', column: 'tags', type: 'multilabel', labels: ['a', 'b'] });
    assert.deepEqual(prep.tasks[3], { task: 'price', column: 'price', type: 'regression', mean: 20, std: 10 });
  });

  it('masks rows without a label instead of dropping them or inventing one', () => {
    const [kind, ok, tags, price] = encodeLabels(prep, rows);
    assert.deepEqual(Array.from(kind.values), [1, 0, 0]);
    assert.deepEqual(Array.from(kind.mask), [1, 1, 0]);
    assert.deepEqual(Array.from(ok.values), [1, 0, 1]);
    assert.deepEqual(Array.from(ok.mask), [1, 1, 1]);
    assert.deepEqual(Array.from(tags.values), [1, 1, 0, 1, 0, 0]);
    assert.deepEqual(Array.from(tags.mask), [1, 1, 0]);
    assert.deepEqual(Array.from(price.values), [-1, 0, 1]);
    assert.deepEqual(Array.from(price.mask), [1, 0, 1]);
  });

  it('refuses, naming row and feature, an input it cannot encode', () => {
    assert.throws(() => encodeFeatures(prep, [{ x: 1, colour: 'red' }, { colour: 'red' }], true), (err: unknown) => {
      assert.ok(err instanceof FeatureValueError);
      assert.equal(err.row, 1);
      assert.equal(err.feature, 'x');
      return true;
    });
    assert.throws(() => encodeFeatures(prep, [{ x: 'seven', colour: 'red' }], true), /must be a number/);
  });

  it('honours positiveLabel for binary tasks', () => {
    const p = fitPreprocessing({ ...spec, tasks: [{ name: 'ok', column: 'ok', type: 'binary', weight: 1, positiveLabel: 'no' }] }, rows);
    assert.deepEqual(p.tasks[0], { task: 'ok', column: 'ok', type: 'binary', labels: ['yes', 'no'] });
  });
});
