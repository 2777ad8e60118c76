import type { ColumnInfo } from './column-inference.js';
import type { ResolvedArchitecture, ResolvedSpec } from './spec.js';

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
  const { parameters, units } = countParameters(spec.architecture, inputSize, widths);
  const parts = {
    scan: Math.min(rows, ROWS_IN_FLIGHT) * columns.length * CELL_BYTES,
    encoded: rows * (inputSize + widths.reduce((a, b) => a + b, 0) + spec.tasks.length) * 4 * 2,
    parameters: parameters * 4 * 7, // weights, gradients, 2 Adam moments, best copy, checkpoint, per-task gradients
    activations: spec.training.batchSize * units * 4 * 4,
  };
  return { bytes: parts.scan + parts.encoded + parts.parameters + parts.activations, parameters, inputSize, parts };
}

function dense(stack: number[], input: number): { params: number; units: number; out: number } {
  let params = 0;
  let units = 0;
  let width = input;
  for (const u of stack) {
    params += width * u + u;
    units += u;
    width = u;
  }
  return { params, units, out: width };
}

/** Parameters and hidden units of an architecture (task heads included). */
export function countParameters(a: ResolvedArchitecture, inputSize: number, headWidths: number[]): { parameters: number; units: number } {
  const T = headWidths.length;
  let params = 0;
  let units = 0;
  const heads = (input: number, layers: number[]) => {
    for (const w of headWidths) {
      const h = dense([...layers, w], input);
      params += h.params;
      units += h.units;
    }
  };
  switch (a.type) {
    case 'hard-sharing': {
      const trunk = dense(a.sharedLayers, inputSize);
      params += trunk.params;
      units += trunk.units;
      heads(trunk.out, a.headLayers);
      break;
    }
    case 'soft-sharing': {
      const tower = dense(a.sharedLayers, inputSize);
      params += T * tower.params + (a.crossStitch ? a.sharedLayers.length * T * T : 0);
      units += T * tower.units;
      heads(tower.out, a.headLayers);
      break;
    }
    case 'mmoe':
    case 'ple': {
      const experts = a.type === 'mmoe' ? a.experts : (a.experts + a.taskExperts * T) * a.levels;
      const expert = dense(a.expertLayers, inputSize);
      params += experts * expert.params + T * (inputSize * experts + experts);
      units += experts * expert.units;
      heads(expert.out, a.towerLayers);
      break;
    }
  }
  return { parameters: params, units };
}
