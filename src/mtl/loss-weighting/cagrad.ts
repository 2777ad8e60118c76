import type * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, gramMatrix, solveOnActiveTasks, StepWeights, withTaskMatrix, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const CaGradSchema = variantSchema(
  'strategy',
  'cagrad',
  {
    c: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.5, description: "radius c of the ball around the mean gradient, relative to its norm (0: the mean gradient)" }),
    rescale: Type.Integer({ minimum: 0, maximum: 2, default: 1, description: 'the update divided by 1 (0), by 1 + c² (1, the paper\'s) or by 1 + c (2)' }),
  },
  'Conflict-averse gradient descent (Liu 2021).',
);

/**
 * CAGrad (Liu et al. 2021): the update d maximises the worst task's improvement min_t ⟨g_t, d⟩
 * within a ball of radius c·‖g₀‖ around the mean gradient g₀. Its dual is
 * min_{w ∈ simplex} g_wᵀ g₀ + c‖g₀‖·‖g_w‖ with g_w = Σ w_t g_t, and then d = g₀ + (c‖g₀‖/‖g_w‖)·g_w,
 * divided by 1 + c² (the paper's rescale). On the weighted gradients w_t·g_t of the shared weights;
 * the heads train on Σ w_t L_t. Records d's coefficient on each task gradient.
 */
export class CaGrad extends StepWeights {
  override readonly needsTaskGradients = true;

  constructor(base: number[], private readonly c: number, private readonly rescale: number) {
    super(base);
  }

  combineGradients({ flat }: TaskGradients): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => {
      const coefficients = solveOnActiveTasks(gramMatrix(g, this.base), (gram) => cagradCoefficients(gram, this.c, this.rescale));
      this.report(coefficients);
      return combineRows(g, coefficients.map((k, t) => k * this.base[t]));
    });
  }
}

/** d's coefficient on each task gradient (d = Σ k_t g_t) from the gradients' Gram matrix. */
export function cagradCoefficients(gram: number[][], c: number, rescale: number): number[] {
  const T = gram.length;
  // The objective scales with the Gram matrix, its minimiser does not: solve on a unit scale.
  const scale = Math.max(...gram.map((row, t) => row[t]), 1e-30);
  const a = gram.map((row) => row.map((v) => v / scale));
  const meanGram = a.reduce((acc, row) => acc + row.reduce((x, y) => x + y, 0), 0) / (T * T);
  const radius = c * Math.sqrt(Math.max(meanGram, 0)) + 1e-8; // c·‖g₀‖
  const ab = a.map((row) => row.reduce((acc, v) => acc + v / T, 0)); // A·(1/T): g_tᵀ g₀
  const w = minimizeOnSimplex(T, (x) => {
    const ax = a.map((row) => row.reduce((acc, v, j) => acc + v * x[j], 0));
    const norm = Math.sqrt(Math.max(ax.reduce((acc, v, t) => acc + v * x[t], 0), 0) + 1e-8);
    return {
      value: ab.reduce((acc, v, t) => acc + v * x[t], 0) + radius * norm,
      gradient: ab.map((v, t) => v + (radius * ax[t]) / norm),
    };
  });
  const gwNorm = Math.sqrt(Math.max(w.reduce((acc, wi, i) => acc + wi * a[i].reduce((inner, v, j) => inner + v * w[j], 0), 0), 0));
  const lambda = radius / (gwNorm + 1e-8);
  const divisor = rescale === 1 ? 1 + c * c : rescale === 2 ? 1 + c : 1;
  return w.map((wi) => (1 / T + lambda * wi) / divisor);
}

/**
 * Minimises a smooth convex function on the probability simplex: projected gradient descent with a
 * backtracking step size, from uniform weights. Small problems (a few tasks), solved to ~1e-12.
 */
export function minimizeOnSimplex(n: number, f: (x: number[]) => { value: number; gradient: number[] }, maxIterations = 2000): number[] {
  let x = new Array<number>(n).fill(1 / n);
  let current = f(x);
  let step = 1;
  for (let iter = 0; iter < maxIterations; iter++) {
    let moved = false;
    for (let tries = 0; tries < 60; tries++) {
      const next = projectOnSimplex(x.map((v, i) => v - step * current.gradient[i]));
      const diff = next.map((v, i) => v - x[i]);
      const dist2 = diff.reduce((acc, v) => acc + v * v, 0);
      if (dist2 < 1e-26) break;
      const candidate = f(next);
      const bound = current.value + diff.reduce((acc, v, i) => acc + v * current.gradient[i], 0) + dist2 / (2 * step);
      if (candidate.value <= bound + 1e-15) {
        x = next;
        current = candidate;
        moved = dist2 > 1e-24;
        step *= 2;
        break;
      }
      step /= 2;
    }
    if (!moved) break;
  }
  return x;
}

/** The Euclidean projection of y onto the probability simplex (sort, then threshold). */
export function projectOnSimplex(y: number[]): number[] {
  const sorted = [...y].sort((p, q) => q - p);
  let cumulative = 0;
  let threshold = (y.reduce((p, q) => p + q, 0) - 1) / y.length;
  for (let i = 0; i < sorted.length; i++) {
    cumulative += sorted[i];
    const t = (cumulative - 1) / (i + 1);
    if (i === sorted.length - 1 || sorted[i + 1] <= t) {
      threshold = t;
      break;
    }
  }
  return y.map((v) => Math.max(v - threshold, 0));
}

export const cagrad: LossWeightingMethod<VariantOf<typeof CaGradSchema>> = {
  schema: CaGradSchema,
  create: (config, { weights }) => new CaGrad(weights, config.c, config.rescale),
};
