import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ColumnInference } from '../../src/mtl/column-inference.js';
// @ts-expect-error: a plain ES module of the dashboard (public/js has no types and no build step)
import { guessTaskType } from '../../public/js/column-guess.js';

const guess = guessTaskType as (c: unknown) => string;

describe('the dashboard guesses a task type per column', () => {
  it('on examples/digits.csv: digit is classification, parity binary, tags multi-label, value regression', () => {
    const [header, ...lines] = readFileSync(new URL('../../examples/digits.csv', import.meta.url), 'utf8').trim().split('\n');
    const inference = new ColumnInference(header.split(','));
    for (const l of lines) inference.addCells(l.split(','));
    const types = Object.fromEntries(inference.columns().map((c) => [c.name, guess(c)]));
    assert.deepEqual({ digit: types.digit, parity: types.parity, tags: types.tags, value: types.value }, { digit: 'classification', parity: 'binary', tags: 'multilabel', value: 'regression' });
  });

  it('numbers are regression unless they look like class codes', () => {
    const numeric = (name: string, values: number[], distinct = values.length) => ({ name, type: 'numeric', distinct, distinctCapped: false, sample: values });
    const ints = (n: number) => Array.from({ length: n }, (_, i) => i);
    assert.equal(guess(numeric('price', [1.5, 2.25, 3])), 'regression', 'fractions');
    assert.equal(guess(numeric('x', ints(20), 300)), 'regression', 'many distinct integers');
    assert.equal(guess({ ...numeric('x', ints(20)), distinctCapped: true }), 'regression', 'more distinct values than counted');
    assert.equal(guess(numeric('spendTotal', ints(5))), 'regression', 'a quantity by name');
    assert.equal(guess(numeric('segment', ints(5))), 'classification', 'few integer codes');
    assert.equal(guess(numeric('rating', ints(15))), 'classification', 'a category by name, 15 codes');
    assert.equal(guess(numeric('x', ints(15))), 'regression', '15 integers without a category name');
    assert.equal(guess(numeric('churned', [0, 1])), 'binary');
  });
});
