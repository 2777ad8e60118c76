import type * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, gramMatrix, StepWeights, withTaskMatrix, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const AlignedMtlSchema = variantSchema(
  'strategy',
  'aligned-mtl',
  {
    scale: Type.Union([Type.Literal('min'), Type.Literal('median'), Type.Literal('rmse')], {
      default: 'min',
      description: "the aligned gradients' common norm: the smallest (min, the paper's), median or root-mean-square singular value of the gradient matrix",
    }),
  },
  'Aligned-MTL: the task gradients made orthogonal and of equal norm (Senushkin 2023).',
);

export type AlignedScale = VariantOf<typeof AlignedMtlSchema>['scale'];

/**
 * Aligned-MTL (Senushkin et al. 2023): the gradient matrix G (one row per task) is replaced by the
 * closest matrix with orthogonal rows of equal norm σ (a Procrustes problem), Ĝ = σ·(GGᵀ)^(−½)·G,
 * from the eigen-decomposition GGᵀ = V Λ Vᵀ (the squared singular values of G; directions with
 * eigenvalue 0 dropped); σ is the smallest kept singular value. The shared weights' gradient is the
 * sum of Ĝ's rows, Σ α_t g_t with α = σ·V Λ^(−½) Vᵀ·1. On the weighted gradients w_t·g_t; the heads
 * train on Σ w_t L_t. Records α.
 */
export class AlignedMtl extends StepWeights {
  override readonly needsTaskGradients = true;

  constructor(base: number[], private readonly scale: AlignedScale) {
    super(base);
  }

  combineGradients({ flat }: TaskGradients): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => {
      const alpha = alignedWeights(gramMatrix(g, this.base), this.scale);
      this.report(alpha);
      return combineRows(g, alpha.map((a, t) => a * this.base[t]));
    });
  }
}

/** α = σ·V Λ^(−½) Vᵀ·1 from the Gram matrix GGᵀ, over the eigenvalues above the rank tolerance. */
export function alignedWeights(gram: number[][], scale: AlignedScale = 'min'): number[] {
  const T = gram.length;
  const { values, vectors } = symmetricEigen(gram);
  const largest = Math.max(...values, 0);
  // torch.linalg's rank tolerance in float32, as the reference: λ_max · T · ε.
  const tolerance = largest * T * 1.1920929e-7;
  const kept = values.map((v, k) => ({ v, k })).filter(({ v }) => v > tolerance && v > 0);
  if (kept.length === 0) return new Array<number>(T).fill(0);
  const sorted = kept.map(({ v }) => v).sort((a, b) => a - b);
  const sigma2 =
    scale === 'min' ? sorted[0] : scale === 'median' ? sorted[Math.floor((sorted.length - 1) / 2)] : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const sigma = Math.sqrt(sigma2);
  // α_i = σ Σ_k V_ik λ_k^(−½) Σ_j V_jk
  return Array.from({ length: T }, (_, i) =>
    kept.reduce((acc, { v, k }) => acc + (sigma * vectors[i][k] * vectors.reduce((s, row) => s + row[k], 0)) / Math.sqrt(v), 0),
  );
}

/**
 * Eigenvalues and eigenvectors (columns of `vectors`) of a small symmetric matrix by cyclic Jacobi
 * rotations, to machine precision.
 */
export function symmetricEigen(matrix: number[][]): { values: number[]; vectors: number[][] } {
  const n = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  const total = Math.sqrt(a.flat().reduce((acc, x) => acc + x * x, 0));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (Math.sqrt(off) <= 1e-15 * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        // The rotation that zeroes a[p][q]: tan θ = t, the smaller root of t² + 2τt − 1 = 0.
        const tau = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]), vectors: v };
}

export const alignedMtl: LossWeightingMethod<VariantOf<typeof AlignedMtlSchema>> = {
  schema: AlignedMtlSchema,
  create: (config, { weights }) => new AlignedMtl(weights, config.scale),
};
