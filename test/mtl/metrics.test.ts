import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, auc, binaryAccuracy, microF1, regressionMetrics } from '../../src/mtl/metrics.js';

const close = (a: number | null, b: number, eps = 1e-9) => assert.ok(a !== null && Math.abs(a - b) < eps, `${a} vs ${b}`);

describe('metrics (hand-computed)', () => {
  it('accuracy counts arg-max hits on labelled rows only', () => {
    const probs = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.3, 0.4, 0.3]);
    close(accuracy(probs, 3, [0, 1, 1], [1, 1, 1]), 2 / 3);
    close(accuracy(probs, 3, [0, 1, 1], [1, 0, 1]), 1);
    assert.equal(accuracy(probs, 3, [0, 1, 1], [0, 0, 0]), null);
  });

  it('AUC by ranks, with ties sharing a rank', () => {
    close(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], [1, 1, 1, 1]), 0.75);
    close(auc([0.5, 0.5], [0, 1], [1, 1]), 0.5);
    close(auc([0.9, 0.1, 0.2], [1, 0, 0], [1, 1, 0]), 1);
    assert.equal(auc([0.3, 0.4], [1, 1], [1, 1]), null);
  });

  it('binary accuracy at 0.5', () => {
    close(binaryAccuracy([0.9, 0.4, 0.6], [1, 0, 0], [1, 1, 1]), 2 / 3);
  });

  it('micro-F1 over all (row, label) pairs', () => {
    // row 0 predicts {0,2}, truth {0}: tp 1, fp 1; row 1 predicts {1}, truth {1,2}: tp 1, fn 1 → 2·2/(2·2+1+1)
    const probs = Float32Array.from([0.9, 0.2, 0.6, 0.1, 0.7, 0.4]);
    close(microF1(probs, 3, [1, 0, 0, 0, 1, 1], [1, 1]), 4 / 6);
  });

  it('RMSE and R²', () => {
    const { rmse, r2 } = regressionMetrics([1, 2, 3, 99], [1, 2, 4, 0], [1, 1, 1, 0]);
    close(rmse, Math.sqrt(1 / 3));
    const mean = 7 / 3;
    close(r2, 1 - 1 / ((1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2));
  });
});
