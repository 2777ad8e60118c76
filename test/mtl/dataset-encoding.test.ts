import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDataset } from '../../src/mtl/dataset-encoding.js';
import { encodeFeatures, encodeLabels, fitPreprocessing } from '../../src/mtl/preprocessing.js';
import { createRng, shuffledIndices } from '../../src/mtl/rng.js';
import { rowScanSource, type RowSource } from '../../src/mtl/row-source.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

const { rows, summary } = loadDigits();
const spec = resolveSpec(
  {
    datasetId: 'digits',
    features: PIXELS.map((name) => ({ name })),
    tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'tags', type: 'multilabel' }, { name: 'value', type: 'regression' }],
    training: { validationSplit: 0.2, seed: 7 },
  },
  summary,
);

/** A source that hands out a fresh copy of each row on every scan (as the store parses lines) and counts its scans. */
function streamed(): RowSource & { scans: number } {
  const source = {
    ...rowScanSource(rows.length, async (visit) => {
      source.scans++;
      rows.forEach((row, i) => visit({ ...row }, i));
    }),
    scans: 0,
  };
  return source;
}

describe('encoding a dataset that streams past', () => {
  it('gives the split, preprocessing and arrays of fitting and encoding the rows in memory, in two scans', async () => {
    const source = streamed();
    const { preprocessing, train, validation } = await encodeDataset(spec, source);
    assert.equal(source.scans, 2);

    // The same thing done on in-memory rows: seeded shuffle, last 20 % validate, fit on the training rows.
    const order = shuffledIndices(rows.length, createRng(spec.training.seed ^ 0x5eed));
    const nVal = Math.floor(rows.length * 0.2);
    const trainRows = Array.from(order.subarray(0, rows.length - nVal), (i) => rows[i]);
    const validationRows = Array.from(order.subarray(rows.length - nVal), (i) => rows[i]);
    const expected = fitPreprocessing(spec, trainRows);
    assert.deepEqual(preprocessing.tasks, expected.tasks);
    preprocessing.features.forEach((f, j) => {
      const e = expected.features[j];
      assert.equal(f.type, e.type);
      if (f.type === 'numeric' && e.type === 'numeric') {
        assert.ok(Math.abs(f.mean - e.mean) <= 1e-9 * Math.max(1, Math.abs(e.mean)), `${f.name} mean`);
        assert.ok(Math.abs(f.std - e.std) <= 1e-9 * e.std, `${f.name} std`);
      }
    });
    for (const [split, splitRows] of [[train, trainRows], [validation!, validationRows]] as const) {
      assert.equal(split.rows, splitRows.length);
      const x = encodeFeatures(expected, splitRows);
      assert.equal(split.x.length, x.length);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(split.x[i] - x[i]));
      assert.ok(worst < 1e-5, `features differ by ${worst}`);
      encodeLabels(expected, splitRows).forEach((l, t) => {
        assert.deepEqual(Array.from(split.labels[t].mask), Array.from(l.mask), `${l.task} mask`);
        if (l.type === 'regression') {
          for (let i = 0; i < l.values.length; i++) assert.ok(Math.abs(split.labels[t].values[i] - l.values[i]) < 1e-5);
        } else assert.deepEqual(Array.from(split.labels[t].values), Array.from(l.values), `${l.task} values`);
      });
    }
  });

  it('keeps at least one training row, and no validation arrays when the split is 0', async () => {
    const none = await encodeDataset({ ...spec, training: { ...spec.training, validationSplit: 0 } }, streamed());
    assert.equal(none.validation, null);
    assert.equal(none.train.rows, rows.length);
  });
});
