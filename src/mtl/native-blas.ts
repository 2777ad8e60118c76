import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The native kernels of native/mtl_blas.c (see there for each function's contract). */
export interface NativeBlas {
  sgemm(batch: number, transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, strideA: number, b: Float32Array, strideB: number, c: Float32Array, strideC: number): void;
  epilogue(c: Float32Array, rows: number, cols: number, bias: Float32Array | null, activation: number, alpha: number): void;
  adamInPlace(value: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, oneMinusAccBeta1: number, oneMinusAccBeta2: number, epsilon: number, negLearningRate: number): void;
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  binary(op: number, out: Float32Array, a: Float32Array, b: Float32Array, d0: number, d1: number, d2: number, sa0: number, sa1: number, sa2: number, sb0: number, sb1: number, sb2: number): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  activationGrad(op: number, dy: Float32Array, y: Float32Array, out: Float32Array): void;
  /** OpenBLAS's thread count. */
  threads(): number;
  setThreads(n: number): void;
  info(): string;
}

export type NativeBlasLoad = { ok: true; blas: NativeBlas } | { ok: false; reason: string };

let cached: NativeBlasLoad | undefined;

/**
 * Loads the optional native BLAS addon (native/build/mtl_blas.node, built by `npm run build:native`
 * at install time), or says why it could not: not built (no compiler or no libopenblas-dev at
 * install), or not loadable (e.g. libopenblas missing at run time). `addonPath` names another
 * file (MTL_BLAS_ADDON). Loaded once per process: the first call's path holds.
 */
export function loadNativeBlas(addonPath?: string): NativeBlasLoad {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // src/mtl (tsx) or dist/src/mtl (built): the addon lives in <repo>/native/build.
  const candidates = addonPath
    ? [addonPath]
    : [join(here, '..', '..', 'native', 'build', 'mtl_blas.node'), join(here, '..', '..', '..', 'native', 'build', 'mtl_blas.node')];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    cached = { ok: false, reason: `native BLAS addon not built (no ${candidates[0]}; run \`npm run build:native\`, which needs a C compiler and libopenblas-dev)` };
    return cached;
  }
  try {
    const blas = createRequire(import.meta.url)(path) as NativeBlas;
    cached = { ok: true, blas };
  } catch (err) {
    cached = { ok: false, reason: `native BLAS addon ${path} failed to load: ${(err as Error).message.split('\n')[0]}` };
  }
  return cached;
}
