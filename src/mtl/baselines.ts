import { higherIsBetter, type MetricName, type TaskMetrics } from './metrics.js';

export interface TaskBaseline {
  metricName: MetricName;
  /** The task's validation metric in the multi-task model and in its own single-task model. */
  mtl: number | null;
  stl: number | null;
  /** ±(M_mtl − M_stl) / M_stl, positive when multi-task learning helped this task. */
  gain: number | null;
  /** The task's linear reference on the same split (linear-reference.ts): ridge, or L2-regularised logistic / softmax regression. */
  linear: LinearBaseline | null;
}

/** A linear reference's headline metric on the validation split, and the regularisation λ chosen there. */
export interface LinearBaseline {
  metric: MetricName;
  value: number | null;
  lambda: number;
}

export interface BaselineReport {
  tasks: Record<string, TaskBaseline>;
  /** Δm: the mean of the per-task gains (Maninis et al. 2019), as a fraction (0.05 = MTL is 5% better). */
  deltaM: number | null;
}

/** Compares per-task metrics of the multi-task model with single-task baselines trained on the same split and budget (and lists the linear references beside them). */
export function compareWithBaselines(mtl: Record<string, TaskMetrics>, stl: Record<string, TaskMetrics>, linear: Record<string, LinearBaseline> = {}): BaselineReport {
  const tasks: Record<string, TaskBaseline> = {};
  const gains: number[] = [];
  for (const [task, m] of Object.entries(mtl)) {
    const s = stl[task];
    const metricName = m.metricName;
    const sign = higherIsBetter(metricName) ? 1 : -1;
    const gain = m.metric !== null && s?.metric !== null && s?.metric !== undefined && s.metric !== 0 ? (sign * (m.metric - s.metric)) / Math.abs(s.metric) : null;
    if (gain !== null) gains.push(gain);
    tasks[task] = { metricName, mtl: m.metric, stl: s?.metric ?? null, gain, linear: linear[task] ?? null };
  }
  return { tasks, deltaM: gains.length > 0 ? gains.reduce((a, b) => a + b, 0) / gains.length : null };
}
