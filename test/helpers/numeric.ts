import assert from 'node:assert/strict';

/** Roughly normal Float32Arrays (sum of three uniforms) from a seeded stream (createRng): test inputs that repeat on every run. */
export function randomNormals(rand: () => number): (n: number, scale?: number) => Float32Array {
  return (n, scale = 1) => Float32Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * 2 * scale);
}

/** max |a − b| / max |b| over the whole result (a NaN in the reference must be a NaN in `a`). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'same length');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) {
      assert.ok(Number.isNaN(a[i]), `NaN at ${i} in the reference only`);
      continue;
    }
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
