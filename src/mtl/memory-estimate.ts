import type { ColumnInfo } from './column-inference.js';
import type { ResolvedSpec } from './spec.js';
import { architectureOf } from './architectures/index.js';
import { takesTaskGradients } from './loss-weighting/index.js';

export interface MemoryEstimate {
  bytes: number;
  parameters: number;
  inputSize: number;
  parts: { runtime: number; scan: number; encoded: number; parameters: number; activations: number };
}

const CELL_BYTES = 24; // a parsed row cell held in a JS object (key slot + boxed value), measured roughly
const ROWS_IN_FLIGHT = 4096; // rows a scan of the dataset may have parsed and not yet collected
const MAX_CATEGORIES = 256;
/** The training process before any data: Node.js, TensorFlow.js and its backend (~180 MiB measured, blas). */
const RUNTIME_BYTES = 256 * 2 ** 20;
/**
 * Float32 copies of every parameter at the peak: weights, gradients, Adam's two moments, the best
 * epoch's copy, a checkpoint's copies, the exported artifacts. Measured (bench/memory-estimate.ts,
 * blas backend): 4 × 4096 shared units, 50.4M parameters, no per-task gradients: peak RSS 1.64 GiB,
 * 7.6 copies beside the runtime.
 */
const PARAMETER_COPIES = 8;
/**
 * Further copies per task on steps that take each task's gradient (task affinity with 2+ tasks, on
 * sampled steps; GradNorm and PCGrad on every step): each task's gradient and its flattened copy,
 * and the affinity meter's work on them. Measured: the same spec with affinity and 2 tasks peaks at
 * 2.95 GiB (14.5 copies); 8 × 4096 units (117.5M parameters) at 6.7 GiB. The old estimate (7
 * copies in all) said 3.1 GiB for the latter, and let it through a 4 GiB worker.
 */
const TASK_GRADIENT_COPIES = 3.5;

/**
 * A worker's peak memory for a spec, roughly: the runtime, the rows a scan of the dataset has in
 * flight (rows stream from the store, see encodeDataset), their float32 encoding (as typed array,
 * and as a tensor on backends that copy it), the copies of the parameters (see PARAMETER_COPIES and
 * TASK_GRADIENT_COPIES), and one batch's activations (forward and backward). Used to refuse, before
 * queueing, specs that cannot fit WORKER_MEMORY_MB.
 */
export function estimateTrainingMemory(spec: ResolvedSpec, columns: ColumnInfo[], rows: number): MemoryEstimate {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const inputSize = spec.features.reduce((n, f) => n + (f.type === 'numeric' ? 1 : Math.min(byName.get(f.name)?.distinct ?? 1, MAX_CATEGORIES) + 1), 0);
  const widths = spec.tasks.map((t) => (t.type === 'classification' || t.type === 'multilabel' ? Math.max(byName.get(t.column)?.distinct ?? 2, 2) : 1));
  const { parameters, units } = architectureOf(spec.architecture).size(spec.architecture, inputSize, widths, spec.tasks.map((t) => t.name));
  const taskGradients = (spec.training.affinity && spec.tasks.length > 1) || takesTaskGradients(spec.lossWeighting);
  const copies = PARAMETER_COPIES + (taskGradients ? TASK_GRADIENT_COPIES * spec.tasks.length : 0);
  const parts = {
    runtime: RUNTIME_BYTES,
    scan: Math.min(rows, ROWS_IN_FLIGHT) * columns.length * CELL_BYTES,
    encoded: rows * (inputSize + widths.reduce((a, b) => a + b, 0) + spec.tasks.length) * 4 * 2,
    parameters: parameters * 4 * copies,
    activations: spec.training.batchSize * units * 4 * 4,
  };
  return { bytes: parts.runtime + parts.scan + parts.encoded + parts.parameters + parts.activations, parameters, inputSize, parts };
}
