import type { ColumnInfo } from './column-inference.js';
import type { ResolvedSpec } from './spec.js';
import { architectureOf } from './architectures/index.js';

export interface MemoryEstimate {
  bytes: number;
  parameters: number;
  inputSize: number;
  parts: { scan: number; encoded: number; parameters: number; activations: number };
}

const CELL_BYTES = 24; // a parsed row cell held in a JS object (key slot + boxed value), measured roughly
const ROWS_IN_FLIGHT = 4096; // rows a scan of the dataset may have parsed and not yet collected
const MAX_CATEGORIES = 256;

/**
 * A worker's peak memory for a spec, roughly: the rows a scan of the dataset has in flight (rows
 * stream from the store, see encodeDataset), their float32 encoding (as typed array, and as a
 * tensor on backends that copy it), the parameters with their gradients, Adam moments, best-epoch and checkpoint
 * copies, and one batch's activations (forward and backward). Used to refuse, before queueing,
 * specs that cannot fit.
 */
export function estimateTrainingMemory(spec: ResolvedSpec, columns: ColumnInfo[], rows: number): MemoryEstimate {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const inputSize = spec.features.reduce((n, f) => n + (f.type === 'numeric' ? 1 : Math.min(byName.get(f.name)?.distinct ?? 1, MAX_CATEGORIES) + 1), 0);
  const widths = spec.tasks.map((t) => (t.type === 'classification' || t.type === 'multilabel' ? Math.max(byName.get(t.column)?.distinct ?? 2, 2) : 1));
  const { parameters, units } = architectureOf(spec.architecture).size(spec.architecture, inputSize, widths);
  const parts = {
    scan: Math.min(rows, ROWS_IN_FLIGHT) * columns.length * CELL_BYTES,
    encoded: rows * (inputSize + widths.reduce((a, b) => a + b, 0) + spec.tasks.length) * 4 * 2,
    parameters: parameters * 4 * 7, // weights, gradients, 2 Adam moments, best copy, checkpoint, per-task gradients
    activations: spec.training.batchSize * units * 4 * 4,
  };
  return { bytes: parts.scan + parts.encoded + parts.parameters + parts.activations, parameters, inputSize, parts };
}
