/**
 * Groupings of tasks from their measured affinity (task-affinity.ts), for trying "which tasks to
 * train together" (a branched tree with a trunk per group).
 */

/**
 * Splits `tasks` into `k` groups (fewer only when there are fewer tasks) by average-linkage
 * agglomerative clustering on `affinity` (higher = more related; the mean of affinity[a][b] and
 * affinity[b][a], 0 where missing): start with each task alone, repeatedly merge the two groups with
 * the highest mean pairwise affinity until `k` remain. Deterministic: ties go to the pair that comes
 * first in task order; each group lists its tasks in the order of `tasks`, and the groups are ordered
 * by their first task.
 */
export function groupTasks(affinity: Record<string, Record<string, number>>, tasks: string[], k: number): string[][] {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`groupTasks: k must be a positive integer, got ${k}`);
  const unique = [...new Set(tasks)];
  const value = (a: string, b: string): number => {
    const ab = affinity[a]?.[b];
    const ba = affinity[b]?.[a];
    const known = [ab, ba].filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    return known.length > 0 ? known.reduce((s, v) => s + v, 0) / known.length : 0;
  };
  const sim = unique.map((a) => unique.map((b) => value(a, b)));
  let groups = unique.map((_, i) => [i]);
  const link = (x: number[], y: number[]): number => {
    let s = 0;
    for (const i of x) for (const j of y) s += sim[i][j];
    return s / (x.length * y.length);
  };
  while (groups.length > k) {
    let best = { score: -Infinity, a: 0, b: 1 };
    for (let a = 0; a < groups.length; a++)
      for (let b = a + 1; b < groups.length; b++) {
        const score = link(groups[a], groups[b]);
        if (score > best.score) best = { score, a, b };
      }
    const merged = [...groups[best.a], ...groups[best.b]].sort((x, y) => x - y);
    groups = groups.filter((_, g) => g !== best.a && g !== best.b);
    groups.push(merged);
    groups.sort((x, y) => x[0] - y[0]);
  }
  return groups.map((g) => g.map((i) => unique[i]));
}

/** An affinity matrix in task order (TaskAffinity.matrix) as the map groupTasks reads. */
export function affinityByName(tasks: string[], matrix: number[][]): Record<string, Record<string, number>> {
  return Object.fromEntries(tasks.map((a, i) => [a, Object.fromEntries(tasks.map((b, j) => [b, matrix[i]?.[j] ?? 0]))]));
}
