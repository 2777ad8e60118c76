import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { maskedLossParts, maskedMean } from '../../src/mtl/losses.js';
import { tf, useTestBackend } from '../helpers/backend.js';

function maskedLoss(type: Parameters<typeof maskedLossParts>[0], logits: number[][], labels: number[] | number[][], mask: number[], width: number): number {
  return tf.tidy(() => {
    const l = tf.tensor2d(logits);
    const y = type === 'classification' ? tf.tensor1d(labels as number[], 'int32') : type === 'multilabel' ? tf.tensor2d(labels as number[][]) : tf.tensor1d(labels as number[]);
    const { sum, count } = maskedLossParts(type, l, y, tf.tensor1d(mask), width);
    return maskedMean(sum, count).dataSync()[0];
  });
}

describe('masked task losses (hand-computed, three rows, one masked)', () => {
  before(useTestBackend);

  it('classification: softmax cross-entropy over labelled rows only', () => {
    // row 0: CE([0,0,0], 0) = ln 3; row 1: CE([1,2,3], 2) = ln(e+e²+e³) − 3; row 2 masked.
    const expected = (Math.log(3) + (Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3)) / 2;
    const got = maskedLoss('classification', [[0, 0, 0], [1, 2, 3], [5, 0, 0]], [0, 2, 1], [1, 1, 0], 3);
    assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
    assert.ok(Math.abs(expected - 0.7531091) < 1e-6);
  });

  it('binary: sigmoid cross-entropy from logits', () => {
    // row 0: x=0, z=1 → ln 2; row 1: x=2, z=0 → softplus(2); row 2 masked.
    const expected = (Math.log(2) + Math.log(1 + Math.exp(2))) / 2;
    const got = maskedLoss('binary', [[0], [2], [-1]], [1, 0, 1], [1, 1, 0], 1);
    assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
  });

  it('binary: stays finite for extreme logits', () => {
    const got = maskedLoss('binary', [[100], [-100], [0]], [0, 1, 0], [1, 1, 0], 1);
    assert.ok(Math.abs(got - 100) < 1e-3, `${got}`);
  });

  it('multilabel: mean of per-label sigmoid cross-entropy', () => {
    // row 0: logits [0,0] → ln 2 each; row 1: logits [2,-2], labels [1,0] → softplus(-2) each; row 2 masked.
    const expected = (Math.log(2) + Math.log(1 + Math.exp(-2))) / 2;
    const got = maskedLoss('multilabel', [[0, 0], [2, -2], [9, 9]], [[1, 0], [1, 0], [0, 0]], [1, 1, 0], 2);
    assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
  });

  it('regression: squared error, masked row ignored', () => {
    const got = maskedLoss('regression', [[1], [2], [3]], [100, 0, 5], [0, 1, 1], 1);
    assert.ok(Math.abs(got - 4) < 1e-6, `${got}`);
  });

  it('a task with no labelled row in the batch has loss 0, not NaN', () => {
    const got = maskedLoss('regression', [[1], [2]], [0, 0], [0, 0], 1);
    assert.equal(got, 0);
  });
});
