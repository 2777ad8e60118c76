import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatcherClosedError, PredictBatcher, type ForwardFn } from '../../src/api/predict-batcher.js';

/**
 * A stand-in model with two heads: head 0 gives each row's first input + 1000 × the pass number,
 * head 1 gives each row's two inputs swapped. Every row's answer shows which row it came from and
 * which pass ran it.
 */
function fakeModel() {
  const passes: number[] = [];
  const forward: ForwardFn = (x, rows) => {
    passes.push(rows);
    const a = new Float32Array(rows);
    const b = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      a[r] = x[r * 2] + 1000 * passes.length;
      b[r * 2] = x[r * 2 + 1];
      b[r * 2 + 1] = x[r * 2];
    }
    return [a, b];
  };
  return { forward, passes };
}

/** `rows` encoded rows of width 2: [start + i, -(start + i)]. */
const rowsFrom = (start: number, rows: number) => Float32Array.from({ length: rows * 2 }, (_, i) => (i % 2 === 0 ? 1 : -1) * (start + Math.floor(i / 2)));

describe('PredictBatcher', () => {
  it('joins requests that arrive together into one pass, each getting exactly its rows, in order', async () => {
    const { forward, passes } = fakeModel();
    const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 100, maxDelayMs: 20 });
    const sizes = [1, 3, 2, 5, 1];
    let start = 0;
    const requests = sizes.map((n) => {
      const x = rowsFrom(start, n);
      start += n;
      return batcher.run(x, n);
    });
    const answers = await Promise.all(requests);
    assert.deepEqual(passes, [12], 'one forward pass for all five requests');
    start = 0;
    answers.forEach((outputs, i) => {
      const n = sizes[i];
      assert.deepEqual([...outputs[0]], Array.from({ length: n }, (_, r) => start + r + 1000));
      assert.deepEqual([...outputs[1]], Array.from({ length: n }, (_, r) => [-(start + r), start + r]).flat());
      start += n;
    });
    const { passes: n, rows, largestPass } = batcher.stats;
    assert.deepEqual({ n, rows, largestPass }, { n: 1, rows: 12, largestPass: 12 });
  });

  it('runs a full batch at once and never puts more than maxBatch rows in a pass', async () => {
    const { forward, passes } = fakeModel();
    const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 4, maxDelayMs: 50 });
    const answers = await Promise.all([3, 2, 2, 4, 1].map((n, i) => batcher.run(rowsFrom(i * 10, n), n)));
    assert.ok(passes.every((n) => n <= 4), `passes ${passes}`);
    assert.equal(passes.reduce((a, b) => a + b), 12);
    assert.deepEqual(
      answers.map((o) => [...o[1]].filter((_, j) => j % 2 === 1)),
      [3, 2, 2, 4, 1].map((n, i) => Array.from({ length: n }, (_, r) => i * 10 + r)),
    );
  });

  it('cuts a request larger than maxBatch into passes and joins the answer back together', async () => {
    for (const maxDelayMs of [0, 5]) {
      const { forward, passes } = fakeModel();
      const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 4, maxDelayMs });
      const [a, b] = await batcher.run(rowsFrom(0, 10), 10);
      assert.deepEqual(passes, [4, 4, 2], `delay ${maxDelayMs}`);
      assert.deepEqual([...a].map((v) => v % 1000), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(b.length, 20);
    }
  });

  it('makes a lone client wait for nobody, and waits for company once passes are shared', async () => {
    const { forward, passes } = fakeModel();
    const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 100, maxDelayMs: 60_000 });
    const nextTurn = () => new Promise((r) => setImmediate(r));
    let timer: NodeJS.Timeout | undefined;
    const neverMind = new Promise((r) => (timer = setTimeout(r, 30_000, 'waited for the delay')));
    // A lone request is answered at the end of the event-loop turn, not after the 60 s delay.
    assert.notEqual(await Promise.race([batcher.run(rowsFrom(0, 1), 1), neverMind]), 'waited for the delay');
    assert.notEqual(await Promise.race([batcher.run(rowsFrom(1, 1), 1), neverMind]), 'waited for the delay');
    assert.deepEqual(passes, [1, 1]);
    clearTimeout(timer);
    // Two requests in one turn share a pass; from then on a batch stays open for later arrivals.
    await Promise.all([batcher.run(rowsFrom(2, 1), 1), batcher.run(rowsFrom(3, 1), 1)]);
    const first = batcher.run(rowsFrom(4, 1), 1);
    await nextTurn();
    await nextTurn();
    const second = batcher.run(rowsFrom(5, 2), 2);
    assert.deepEqual(passes, [1, 1, 2], 'the batch is still open');
    batcher.close(); // runs it now rather than after the delay
    await Promise.all([first, second]);
    assert.deepEqual(passes, [1, 1, 2, 3]);
  });

  it('with a delay of 0 runs each request alone', async () => {
    const { forward, passes } = fakeModel();
    const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 100, maxDelayMs: 0 });
    await Promise.all([1, 2, 3].map((n) => batcher.run(rowsFrom(0, n), n)));
    assert.deepEqual(passes, [1, 2, 3]);
  });

  it('fails the requests of a pass whose forward throws, and keeps serving', async () => {
    let broken = true;
    const { forward } = fakeModel();
    const batcher = new PredictBatcher({
      forward: (x, rows) => {
        if (broken) throw new Error('backend failure');
        return forward(x, rows);
      },
      inputSize: 2,
      maxBatch: 100,
      maxDelayMs: 5,
    });
    const failed = await Promise.allSettled([batcher.run(rowsFrom(0, 1), 1), batcher.run(rowsFrom(1, 1), 1)]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    broken = false;
    const [a] = await batcher.run(rowsFrom(7, 1), 1);
    assert.equal(a[0] % 1000, 7);
  });

  it('answers what is waiting when closed, then refuses new requests', async () => {
    const { forward, passes } = fakeModel();
    const batcher = new PredictBatcher({ forward, inputSize: 2, maxBatch: 100, maxDelayMs: 10_000 });
    const waiting = batcher.run(rowsFrom(3, 2), 2);
    batcher.close();
    assert.deepEqual(passes, [2], 'closing ran the waiting request at once');
    assert.deepEqual([...(await waiting)[0]].map((v) => v % 1000), [3, 4]);
    await assert.rejects(batcher.run(rowsFrom(0, 1), 1), BatcherClosedError);
  });
});
