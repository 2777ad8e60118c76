import type { HeadOutputs } from '../mtl/predictor.js';

/** Runs the model once on `rows` encoded rows (row-major), returning every head's outputs. */
export type ForwardFn = (x: Float32Array, rows: number) => HeadOutputs;

export interface PredictBatcherArgs {
  forward: ForwardFn;
  /** Width of one encoded row. */
  inputSize: number;
  /** Most rows in one forward pass; a larger request is cut into passes of this size, with the event loop free between them. */
  maxBatch: number;
  /** How long the first request of a batch waits for others to join it; 0 turns batching off (each request runs alone, at once). */
  maxDelayMs: number;
  /** Told the rows of every forward pass (metrics). */
  onPass?: (rows: number) => void;
}

/** The batcher was closed (its model evicted or deleted) before the request joined it; ask the cache again. */
export class BatcherClosedError extends Error {
  constructor() {
    super('the model was unloaded while the request waited; retry');
    this.name = 'BatcherClosedError';
  }
}

/** Part of one request: at most maxBatch rows, resolved with exactly its rows of every head. */
interface Slice {
  x: Float32Array;
  rows: number;
  done: (outputs: HeadOutputs) => void;
  fail: (err: unknown) => void;
}

/** Forward passes and rows run so far, the largest pass, and time in passes: what the benchmark shows. */
export interface BatcherStats {
  passes: number;
  rows: number;
  largestPass: number;
  /** Wall time spent in forward passes, and the longest one (the event loop is blocked meanwhile), in ms. */
  passMs: number;
  longestPassMs: number;
}

/**
 * Dynamic micro-batching for one model, in the style of Triton's dynamic batcher: requests that
 * arrive within `maxDelayMs` of the first waiting one are joined, up to `maxBatch` rows, into one
 * forward pass, and each caller gets exactly its own rows back, in order. A full batch runs at
 * once; a batch that is not full runs when the delay is up. Callers encode (and so validate) their
 * rows before they join, so one bad request never fails another.
 *
 * The delay is only paid when it buys something: while the last pass served a single request (a
 * lone client, light traffic), a new batch closes at the end of the current event-loop turn —
 * which still joins every request that has already arrived — instead of waiting for company that
 * is not coming. Once a pass is shared by two or more requests, batches wait up to `maxDelayMs`
 * again. (Measured here: a fixed 2 ms wait cost a lone client 3–4× its latency.)
 */
export class PredictBatcher {
  private queue: Slice[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  /** Requests (or slices of one) in the last forward pass: 2 or more means traffic worth waiting for. */
  private lastPassRequests = 0;
  readonly stats: BatcherStats = { passes: 0, rows: 0, largestPass: 0, passMs: 0, longestPassMs: 0 };

  constructor(private readonly args: PredictBatcherArgs) {
    if (!(args.maxBatch >= 1)) throw new Error('maxBatch must be at least 1');
  }

  /** Predicts `rows` encoded rows; resolves with every head's outputs for exactly these rows. */
  run(x: Float32Array, rows: number): Promise<HeadOutputs> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (rows === 0) return Promise.resolve([]);
    const { maxBatch, inputSize } = this.args;
    if (this.args.maxDelayMs <= 0) return this.runAlone(x, rows);
    if (rows <= maxBatch) {
      const answer = new Promise<HeadOutputs>((done, fail) => this.queue.push({ x, rows, done, fail }));
      this.queuedRows += rows;
      this.schedule();
      return answer;
    }
    // A large request: slices of maxBatch rows, each in its own pass, joined back together.
    const parts: Promise<HeadOutputs>[] = [];
    for (let start = 0; start < rows; start += maxBatch) {
      const n = Math.min(maxBatch, rows - start);
      const slice = x.subarray(start * inputSize, (start + n) * inputSize);
      parts.push(new Promise((done, fail) => this.queue.push({ x: slice, rows: n, done, fail })));
      this.queuedRows += n;
    }
    this.schedule();
    return Promise.all(parts).then(concatOutputs);
  }

  /**
   * Runs what is queued and refuses new requests; the model may be disposed once this returns.
   * Requests already waiting are answered, not dropped.
   */
  close(): void {
    this.closed = true;
    this.cancelSchedule();
    while (this.queue.length > 0) this.flush();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Batching off: this request alone, one pass per maxBatch rows, yielding between passes. */
  private async runAlone(x: Float32Array, rows: number): Promise<HeadOutputs> {
    const { maxBatch, inputSize } = this.args;
    if (rows <= maxBatch) return this.forward(x, rows);
    const parts: HeadOutputs[] = [];
    for (let start = 0; start < rows; start += maxBatch) {
      if (start > 0) await new Promise((r) => setImmediate(r));
      if (this.closed) throw new BatcherClosedError();
      const n = Math.min(maxBatch, rows - start);
      parts.push(this.forward(x.subarray(start * inputSize, (start + n) * inputSize), n));
    }
    return concatOutputs(parts);
  }

  /** After slices joined the queue: a full batch runs now, else the first waiting slice starts the delay. */
  private schedule(): void {
    if (this.queuedRows >= this.args.maxBatch) {
      // A full batch runs now; whatever is left waits for the next turn of the event loop, so
      // health checks and new requests get in between two passes.
      this.cancelSchedule();
      this.flush();
      if (this.queue.length > 0) this.immediate = setImmediate(() => this.onSchedule());
    } else if (!this.timer && !this.immediate) {
      if (this.lastPassRequests >= 2) this.timer = setTimeout(() => this.onSchedule(), this.args.maxDelayMs);
      else this.immediate = setImmediate(() => this.onSchedule());
    }
  }

  private onSchedule(): void {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.queue.length === 0) return;
    this.flush();
    if (this.queue.length > 0) this.immediate = setImmediate(() => this.onSchedule());
  }

  private cancelSchedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** One forward pass over the slices at the head of the queue, up to maxBatch rows. */
  private flush(): void {
    const { maxBatch, inputSize } = this.args;
    const batch: Slice[] = [];
    let rows = 0;
    while (this.queue.length > 0 && (batch.length === 0 || rows + this.queue[0].rows <= maxBatch)) {
      const slice = this.queue.shift()!;
      batch.push(slice);
      rows += slice.rows;
    }
    this.queuedRows -= rows;
    this.lastPassRequests = batch.length;
    let outputs: HeadOutputs;
    try {
      if (batch.length === 1) {
        outputs = this.forward(batch[0].x, rows);
      } else {
        const x = new Float32Array(rows * inputSize);
        let offset = 0;
        for (const s of batch) {
          x.set(s.x, offset);
          offset += s.x.length;
        }
        outputs = this.forward(x, rows);
      }
    } catch (err) {
      for (const s of batch) s.fail(err);
      return;
    }
    let start = 0;
    for (const s of batch) {
      const end = start + s.rows;
      s.done(batch.length === 1 ? outputs : outputs.map((o) => sliceRows(o, rows, start, end)));
      start = end;
    }
  }

  private forward(x: Float32Array, rows: number): HeadOutputs {
    const started = performance.now();
    const outputs = this.args.forward(x, rows);
    const ms = performance.now() - started;
    this.stats.passMs += ms;
    if (ms > this.stats.longestPassMs) this.stats.longestPassMs = ms;
    this.stats.passes++;
    this.stats.rows += rows;
    if (rows > this.stats.largestPass) this.stats.largestPass = rows;
    this.args.onPass?.(rows);
    return outputs;
  }
}

/** Rows [start, end) of a row-major head output of `rows` rows (a view, no copy). */
function sliceRows(output: Float32Array, rows: number, start: number, end: number): Float32Array {
  const width = output.length / rows;
  return output.subarray(start * width, end * width);
}

/** The outputs of consecutive row ranges, head by head, as one set of outputs. */
function concatOutputs(parts: HeadOutputs[]): HeadOutputs {
  return parts[0].map((_, head) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p[head].length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p[head], offset);
      offset += p[head].length;
    }
    return out;
  });
}
