import type * as tf from '@tensorflow/tfjs';
import { forwardPass } from '../mtl/predictor.js';
import { selectHeads } from '../mtl/head-selection.js';
import type { ForwardFn, PredictBatcher } from './predict-batcher.js';

export interface HeadBatchersArgs {
  serving: tf.LayersModel;
  inputSize: number;
  /** The batcher of the whole model (every head). */
  all: PredictBatcher;
  /** Makes a batcher (with the model's batching settings) around a forward function. */
  make: (forward: ForwardFn) => PredictBatcher;
  /** Most task subsets given their own sub-model; requests for further subsets run every head. */
  maxSubsets: number;
}

/** A batcher and the heads its forward passes compute (task indexes, ascending), in output order. */
export interface HeadBatcher {
  batcher: PredictBatcher;
  heads: readonly number[];
}

/**
 * One micro-batcher per set of tasks that requests asked for: a request for some of the tasks joins
 * the batcher of a sub-model that computes only those heads (selectHeads), made on first use and
 * kept while the model is loaded. Requests share forward passes only with requests for the same
 * set. Beyond `maxSubsets` sets, requests join the whole model's batcher (every head computed, the
 * asked-for ones returned), so a client cycling through subsets cannot make unbounded sub-models.
 */
export class HeadBatchers {
  private readonly subsets = new Map<string, HeadBatcher>();
  private readonly everyHead: HeadBatcher;
  private closed = false;

  constructor(private readonly args: HeadBatchersArgs) {
    this.everyHead = { batcher: args.all, heads: args.serving.outputs.map((_, i) => i) };
  }

  /** The batcher for these heads (task indexes, ascending, no repeats); the whole model's when that is all of them. */
  for(heads: readonly number[]): HeadBatcher {
    if (this.closed || heads.length === this.everyHead.heads.length) return this.everyHead;
    const key = heads.join(',');
    const known = this.subsets.get(key);
    if (known) return known;
    if (this.subsets.size >= this.args.maxSubsets) return this.everyHead;
    const { serving, inputSize } = this.args;
    const sub = selectHeads(serving, heads);
    const entry: HeadBatcher = { batcher: this.args.make((x, rows) => forwardPass(sub, inputSize, x, rows)), heads: [...heads] };
    this.subsets.set(key, entry);
    return entry;
  }

  /** Closes every sub-model's batcher (they answer what they hold); the whole model's batcher is its owner's to close. */
  close(): void {
    this.closed = true;
    for (const { batcher } of this.subsets.values()) batcher.close();
  }

  get size(): number {
    return this.subsets.size;
  }
}
