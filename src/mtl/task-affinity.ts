import * as tf from '@tensorflow/tfjs';

/** Which tasks help each other: the mean cosine similarity of their gradients on the shared weights. */
export interface TaskAffinity {
  method: 'gradient-cosine';
  tasks: string[];
  /** matrix[i][j]: mean over sampled steps of cos(∇L_i, ∇L_j) on the shared weights; 1 on the diagonal. */
  matrix: number[][];
  /** Training steps measured. */
  samples: number;
  /** Suggested grouping: tasks whose average mutual affinity stays above `threshold` share a model. */
  groups: string[][];
  threshold: number;
  /** The matrix of each epoch (its sampled steps only), in epoch order; how the tasks' relations moved during training. */
  perEpoch?: { epoch: number; matrix: number[][] }[];
}

/** One epoch's affinity by task name: affinity[a][b] = mean cos(∇L_a, ∇L_b) over the epoch's sampled steps. */
export type EpochAffinity = Record<string, Record<string, number>>;

export const GROUPING_THRESHOLD = 0.1;

/**
 * Accumulates gradient cosines at sampled steps. Gradients that point the same way (cos → 1) mean a
 * step for one task is a step for the other; opposite ones (cos → −1) mean the tasks fight.
 */
export class TaskAffinityMeter {
  private readonly sum: number[][];
  private readonly pairs: number[][];
  private samples = 0;
  /** The current epoch's sums and pair counts (startEpoch resets them). */
  private readonly epochSum: number[][];
  private readonly epochPairs: number[][];

  constructor(private readonly tasks: string[]) {
    this.sum = tasks.map(() => tasks.map(() => 0));
    this.pairs = tasks.map(() => tasks.map(() => 0));
    this.epochSum = tasks.map(() => tasks.map(() => 0));
    this.epochPairs = tasks.map(() => tasks.map(() => 0));
  }

  /** Starts a new epoch's matrix. */
  startEpoch(): void {
    for (const row of [...this.epochSum, ...this.epochPairs]) row.fill(0);
  }

  /** The current epoch's mean matrix by task name, or null when no step of it was measured. */
  epochAffinity(): EpochAffinity | null {
    if (!this.epochPairs.some((row) => row.some((n) => n > 0))) return null;
    return Object.fromEntries(
      this.tasks.map((a, i) => [a, Object.fromEntries(this.tasks.map((b, j) => [b, i === j ? 1 : this.epochPairs[i][j] > 0 ? this.epochSum[i][j] / this.epochPairs[i][j] : 0]))]),
    );
  }

  /** Adds one step: each task's flat gradient on the shared weights (tasks without labels in the batch give a zero vector and are skipped for that step). */
  add(grads: tf.Tensor1D[]): void {
    const T = grads.length;
    const [cos, norms] = tf.tidy(() => {
      const g = tf.stack(grads) as tf.Tensor2D; // T × P
      const n = tf.norm(g, 'euclidean', 1).reshape([T, 1]);
      const unit = tf.div(g, tf.maximum(n, 1e-12));
      return [tf.matMul(unit, unit, false, true).arraySync() as number[][], n.dataSync()];
    });
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++) {
        if (norms[i] === 0 || norms[j] === 0) continue;
        const c = i === j ? 1 : cos[i][j];
        this.sum[i][j] += c;
        this.pairs[i][j]++;
        this.epochSum[i][j] += c;
        this.epochPairs[i][j]++;
      }
    this.samples++;
  }

  getState(): { sum: number[][]; pairs: number[][]; samples: number } {
    return { sum: this.sum.map((r) => [...r]), pairs: this.pairs.map((r) => [...r]), samples: this.samples };
  }

  setState(state: { sum: number[][]; pairs: number[][]; samples: number }): void {
    state.sum.forEach((r, i) => r.forEach((v, j) => (this.sum[i][j] = v)));
    state.pairs.forEach((r, i) => r.forEach((v, j) => (this.pairs[i][j] = v)));
    this.samples = state.samples;
  }

  get count(): number {
    return this.samples;
  }

  result(): TaskAffinity | null {
    if (this.samples === 0 || this.tasks.length < 2) return null;
    const matrix = this.sum.map((row, i) => row.map((v, j) => (i === j ? 1 : this.pairs[i][j] > 0 ? v / this.pairs[i][j] : 0)));
    return { method: 'gradient-cosine', tasks: this.tasks, matrix, samples: this.samples, groups: suggestGroups(this.tasks, matrix), threshold: GROUPING_THRESHOLD };
  }
}

/**
 * Average-linkage agglomerative grouping: repeatedly merge the two groups with the highest mean
 * pairwise affinity while it is above `threshold`.
 */
export function suggestGroups(tasks: string[], matrix: number[][], threshold = GROUPING_THRESHOLD): string[][] {
  let groups = tasks.map((_, i) => [i]);
  const link = (a: number[], b: number[]) => {
    let s = 0;
    for (const i of a) for (const j of b) s += (matrix[i][j] + matrix[j][i]) / 2;
    return s / (a.length * b.length);
  };
  while (groups.length > 1) {
    let best = { score: -Infinity, a: 0, b: 0 };
    for (let a = 0; a < groups.length; a++)
      for (let b = a + 1; b < groups.length; b++) {
        const score = link(groups[a], groups[b]);
        if (score > best.score) best = { score, a, b };
      }
    if (best.score <= threshold) break;
    const merged = [...groups[best.a], ...groups[best.b]].sort((x, y) => x - y);
    groups = groups.filter((_, k) => k !== best.a && k !== best.b);
    groups.push(merged);
  }
  return groups.sort((x, y) => x[0] - y[0]).map((g) => g.map((i) => tasks[i]));
}
