import type { EncodedSplit } from './evaluation.js';
import { encodedColumns, FeatureWriter, LabelBuffers, PreprocessingFit, type Preprocessing } from './preprocessing.js';
import { createRng, shuffledIndices } from './rng.js';
import type { RowSource } from './row-source.js';
import type { ResolvedSpec } from './spec.js';

export interface EncodedDataset {
  preprocessing: Preprocessing;
  train: EncodedSplit;
  validation: EncodedSplit | null;
}

/**
 * Splits, fits and encodes a dataset in two scans of its rows: the first fits the preprocessing on
 * the training rows, the second writes every row straight to its place in the training or
 * validation arrays. The only copy of the data kept is the encoded float32 one.
 *
 * The split is a seeded shuffle: the last `validationSplit` of the shuffled rows validate (at least
 * one row trains), and the training rows keep their shuffled order.
 */
export async function encodeDataset(spec: ResolvedSpec, source: RowSource): Promise<EncodedDataset> {
  const n = source.count;
  const order = shuffledIndices(n, createRng(spec.training.seed ^ 0x5eed));
  const nVal = Math.min(Math.floor(n * spec.training.validationSplit), n - 1);
  const nTrain = n - nVal;
  const slot = new Int32Array(n); // row index → position in the shuffled order
  order.forEach((row, position) => (slot[row] = position));

  const columns = encodedColumns(spec);
  const fit = new PreprocessingFit(spec);
  await source.scanColumns(columns, (cells, i) => {
    if (slot[i] < nTrain) fit.addCells(cells);
  });
  const preprocessing = fit.result();

  const d = preprocessing.inputSize;
  const train = emptySplit(preprocessing, nTrain);
  const validation = nVal > 0 ? emptySplit(preprocessing, nVal) : null;
  const features = new FeatureWriter(preprocessing);
  const firstLabel = spec.features.length;
  await source.scanColumns(columns, (cells, i) => {
    const p = slot[i];
    const split = p < nTrain ? train : validation!;
    const r = p < nTrain ? p : p - nTrain;
    features.writeCells(cells, i, split.x, r * d);
    split.buffers.setCells(r, cells, firstLabel);
  });
  return { preprocessing, train: done(train), validation: validation && done(validation) };
}

function emptySplit(prep: Preprocessing, rows: number) {
  return { x: new Float32Array(rows * prep.inputSize), rows, buffers: new LabelBuffers(prep, rows) };
}

function done(split: ReturnType<typeof emptySplit>): EncodedSplit {
  return { x: split.x, rows: split.rows, labels: split.buffers.labels };
}
