/** How a study ranks trials: per-task gains over a reference, their mean, the Pareto front. Pure. */
import { higherIsBetter, type MetricName } from './metrics.js';

/** ±(value − reference) / |reference|: positive when the value is better (Δm's per-task term). Null without both. */
export function gainOver(metric: MetricName, value: number | null, reference: number | null): number | null {
  if (value === null || reference === null || !Number.isFinite(value) || !Number.isFinite(reference)) return null;
  const sign = higherIsBetter(metric) ? 1 : -1;
  return (sign * (value - reference)) / Math.max(Math.abs(reference), 1e-6);
}

/** The mean of the tasks' gains; a task without one counts as −1 (far worse than its reference). */
export function scoreOf(gains: Record<string, number | null>, tasks: string[]): number | null {
  if (tasks.length === 0) return null;
  return tasks.reduce((s, t) => s + (gains[t] ?? -1), 0) / tasks.length;
}

export interface Ranked {
  id: string;
  score: number | null;
  parameters: number;
}

/** The best: highest score; scores within `tolerance` of it tie and go to the fewest parameters, then the lowest id. */
export function pickBest<T extends Ranked>(trials: T[], tolerance = 1e-3): T | undefined {
  const scored = trials.filter((t) => t.score !== null);
  if (scored.length === 0) return undefined;
  const top = Math.max(...scored.map((t) => t.score!));
  return scored.filter((t) => t.score! >= top - tolerance).sort((a, b) => a.parameters - b.parameters || a.id.localeCompare(b.id))[0];
}

/** Ids of the trials no other trial beats on every task (at least as good on all, better on one). */
export function paretoFront(trials: { id: string; gains: Record<string, number | null> }[], tasks: string[]): string[] {
  const vec = (t: { gains: Record<string, number | null> }) => tasks.map((k) => t.gains[k] ?? -Infinity);
  const candidates = trials.filter((t) => tasks.some((k) => t.gains[k] !== null && t.gains[k] !== undefined));
  return candidates
    .filter((a) => {
      const va = vec(a);
      return !candidates.some((b) => {
        if (b === a) return false;
        const vb = vec(b);
        return vb.every((x, i) => x >= va[i]) && vb.some((x, i) => x > va[i]);
      });
    })
    .map((t) => t.id);
}
