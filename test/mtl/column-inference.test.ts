import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnInference } from '../../src/mtl/column-inference.js';

const infer = (column: string, cells: unknown[]) => {
  const inference = new ColumnInference([column]);
  for (const c of cells) inference.addCells([c]);
  return inference.columns()[0];
};

describe('column inference', () => {
  it('a multilabel CSV column reports its single labels, not their combinations', () => {
    const tags = infer('tags', ['even|loop', 'odd', 'odd|prime', 'even|prime|loop', '', 'even']);
    assert.equal(tags.type, 'multilabel');
    assert.equal(tags.distinct, 4);
    assert.deepEqual([...tags.sample].sort(), ['even', 'loop', 'odd', 'prime']);
    assert.equal(tags.missing, 1);
  });

  it('NDJSON arrays count their elements as labels', () => {
    const inference = new ColumnInference();
    for (const tags of [['a', 'b'], ['b'], [], ['c', 'a']]) inference.add({ tags });
    const col = inference.columns()[0];
    assert.equal(col.type, 'multilabel');
    assert.equal(col.distinct, 3);
    assert.deepEqual([...col.sample].sort(), ['a', 'b', 'c']);
  });

  it('other columns still count whole values', () => {
    const col = infer('colour', ['red', 'blue', 'red', 'green']);
    assert.equal(col.type, 'categorical');
    assert.equal(col.distinct, 3);
    assert.deepEqual(infer('x', ['1', '2.5', '2.5']).distinct, 2);
  });
});
