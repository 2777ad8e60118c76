import type * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { combineRows, gramMatrix, solveOnActiveTasks, StepWeights, withTaskMatrix, type LossWeightingMethod, type TaskGradients } from './loss-weighting.js';

export const MgdaSchema = variantSchema(
  'strategy',
  'mgda',
  {
    normalization: Type.Union([Type.Literal('none'), Type.Literal('l2'), Type.Literal('loss'), Type.Literal('loss+')], {
      default: 'none',
      description: "what each task gradient is divided by before the min-norm search: none, l2 (its norm), loss (its loss), loss+ (loss × norm)",
    }),
  },
  "MGDA: the min-norm point of the task gradients' convex hull on the shared weights (Sener 2018).",
);

export type MgdaNormalization = VariantOf<typeof MgdaSchema>['normalization'];

/**
 * MGDA (Sener & Koltun 2018) on the gradients of the shared parameters (the paper's MGDA-UB uses
 * the gradients of the shared representation instead, an upper bound that is cheaper for big
 * trunks; ours are the parameters'): each step the weights α on the simplex whose combination
 * Σ α_t ĝ_t has the smallest norm, found by Frank-Wolfe, replace the shared weights' gradient. ĝ_t
 * is the task's weighted gradient w_t·g_t divided by the chosen normaliser (LibMTL's `mgda_gn`).
 * The task heads train on Σ w_t L_t with the static weights, as in LibMTL. Records α.
 */
export class Mgda extends StepWeights {
  override readonly needsTaskGradients = true;

  constructor(base: number[], private readonly normalization: MgdaNormalization) {
    super(base);
  }

  combineGradients({ flat, losses }: TaskGradients): tf.Tensor1D {
    return withTaskMatrix(flat, (g) => {
      const gram = gramMatrix(g, this.base);
      const norms = gram.map((row, t) => Math.sqrt(Math.max(row[t], 0)));
      const divisor = norms.map((n, t) => {
        const d = this.normalization === 'l2' ? n : this.normalization === 'loss' ? losses[t] : this.normalization === 'loss+' ? losses[t] * n : 1;
        return d > 0 && Number.isFinite(d) ? d : 1;
      });
      const normalized = gram.map((row, i) => row.map((v, j) => v / (divisor[i] * divisor[j])));
      const alpha = solveOnActiveTasks(normalized, minNormWeights);
      this.report(alpha);
      return combineRows(g, alpha.map((a, t) => (a * this.base[t]) / divisor[t]));
    });
  }
}

/**
 * The point of the simplex α minimising ‖Σ α_t g_t‖² = αᵀ M α, from the Gram matrix M = G Gᵀ:
 * Frank-Wolfe with exact line search, as in the paper (Algorithm 1), with away steps so that it
 * also converges fast when the solution lies on a face of the simplex. Starts from uniform weights.
 */
export function minNormWeights(gram: number[][], maxIterations = 1000): number[] {
  const T = gram.length;
  const alpha = new Array<number>(T).fill(1 / T);
  if (T <= 1) return alpha;
  const scale = Math.max(...gram.map((row, t) => row[t]), 1e-30);
  const m = gram.map((row) => row.map((v) => v / scale));
  for (let iter = 0; iter < maxIterations; iter++) {
    const ma = m.map((row) => row.reduce((acc, v, j) => acc + v * alpha[j], 0));
    const norm2 = ma.reduce((acc, v, t) => acc + v * alpha[t], 0);
    // Frank-Wolfe vertex: the task whose gradient points least along the current combination.
    let s = 0;
    for (let t = 1; t < T; t++) if (ma[t] < ma[s]) s = t;
    // Away vertex: among the tasks in use, the one pointing most along it.
    let a = -1;
    for (let t = 0; t < T; t++) if (alpha[t] > 0 && (a < 0 || ma[t] > ma[a])) a = t;
    const fwGap = norm2 - ma[s];
    const awayGap = ma[a] - norm2;
    if (Math.max(fwGap, awayGap) <= 1e-15) break;
    // Direction d in weight space and the largest step along it that stays on the simplex.
    const d = alpha.map((w) => (fwGap >= awayGap ? -w : w));
    let maxStep: number;
    if (fwGap >= awayGap) {
      d[s] += 1;
      maxStep = 1;
    } else {
      d[a] -= 1;
      maxStep = alpha[a] < 1 ? alpha[a] / (1 - alpha[a]) : 0;
    }
    // ‖G(α + γd)‖² = αᵀMα + 2γ dᵀMα + γ² dᵀMd: minimised at γ = −dᵀMα / dᵀMd.
    const dMa = d.reduce((acc, v, t) => acc + v * ma[t], 0);
    const dMd = d.reduce((acc, v, i) => acc + v * m[i].reduce((inner, x, j) => inner + x * d[j], 0), 0);
    const step = dMd > 0 ? Math.min(Math.max(-dMa / dMd, 0), maxStep) : maxStep;
    if (step <= 0) break;
    for (let t = 0; t < T; t++) alpha[t] = Math.max(alpha[t] + step * d[t], 0);
    const total = alpha.reduce((x, y) => x + y, 0);
    for (let t = 0; t < T; t++) alpha[t] /= total;
  }
  return alpha;
}

export const mgda: LossWeightingMethod<VariantOf<typeof MgdaSchema>> = {
  schema: MgdaSchema,
  create: (config, { weights }) => new Mgda(weights, config.normalization),
};
