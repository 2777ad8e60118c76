import { FeatureWriter, headWidth, type LabelEncoder, type Preprocessing } from '../mtl/preprocessing.js';
import type { HeadOutputs } from '../mtl/predictor.js';

/**
 * Tensors of the Open Inference Protocol (v2) in and out of this service's models: one input
 * tensor per feature, named after it, and one output tensor per task, named after it.
 */

/** A request this service cannot answer; `status` 400 unless said otherwise. */
export class TensorError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = 'TensorError';
  }
}

export interface RequestTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export interface ResponseTensor {
  name: string;
  datatype: 'FP32';
  shape: [number, number];
  data: number[];
}

/** How the elements of a numeric input are checked, by datatype. */
const NUMERIC_KINDS: Record<string, 'float' | 'integer' | 'unsigned' | 'bool'> = {
  FP16: 'float',
  FP32: 'float',
  FP64: 'float',
  INT8: 'integer',
  INT16: 'integer',
  INT32: 'integer',
  INT64: 'integer',
  UINT8: 'unsigned',
  UINT16: 'unsigned',
  UINT32: 'unsigned',
  UINT64: 'unsigned',
  BOOL: 'bool',
};

/** The request's inputs, each as its N values (flattened from [[v], …] for shape [N, 1]), and N. */
export interface RequestColumns {
  rows: number;
  inputs: readonly RequestTensor[];
  /** values[i]: the N values of inputs[i]. */
  values: unknown[][];
}

/** Checks every input's shape ([N] or [N, 1], one N for all) and data length; no model needed yet. */
export function readInputs(inputs: readonly RequestTensor[]): RequestColumns {
  const rows = inputs[0].shape[0];
  const values = new Array<unknown[]>(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const { name, shape, data } = inputs[i];
    if (shape.length > 2 || (shape.length === 2 && shape[1] !== 1)) throw new TensorError(`input '${name}' has shape [${shape}]; each feature is a tensor of shape [N] or [N, 1]`);
    if (shape[0] !== rows) throw new TensorError(`input '${name}' has ${shape[0]} rows, input '${inputs[0].name}' ${rows}; every input must have the same N`);
    values[i] = flatten(name, data, rows);
  }
  if (rows === 0) throw new TensorError('the inputs hold no rows (N = 0)');
  return { rows, inputs, values };
}

function flatten(name: string, data: unknown[], rows: number): unknown[] {
  if (data.length === rows) {
    let nested = 0;
    for (let r = 0; r < rows; r++) if (Array.isArray(data[r])) nested++;
    if (nested === 0) return data;
    if (nested === rows) {
      const flat = new Array<unknown>(rows);
      for (let r = 0; r < rows; r++) {
        const d = data[r] as unknown[];
        if (d.length !== 1) break;
        flat[r] = d[0];
        if (r === rows - 1) return flat;
      }
    }
  }
  throw new TensorError(`input '${name}': data must hold ${rows} values (flat, or [[v], …] for shape [${rows}, 1]), got ${data.length} entries`);
}

/** What encoding a request needs of a model's preprocessing, worked out once per loaded model. */
interface Encoding {
  /** Feature index by name. */
  index: Map<string, number>;
  writer: FeatureWriter;
}
const encodings = new WeakMap<Preprocessing, Encoding>();

function encodingOf(prep: Preprocessing): Encoding {
  let e = encodings.get(prep);
  if (!e) {
    e = { index: new Map(prep.features.map((f, j) => [f.name, j])), writer: new FeatureWriter(prep) };
    encodings.set(prep, e);
  }
  return e;
}

/**
 * Encodes the request's columns for the model: every feature must be an input (and nothing else),
 * numeric features as FP*, INT*, UINT* or BOOL, categorical ones as BYTES; elements are checked
 * against their datatype (null: a missing value). Encoded exactly as /v1 encodes instances.
 */
export function encodeInputs(prep: Preprocessing, { rows, inputs, values }: RequestColumns): Float32Array {
  const { features } = prep;
  const { index, writer } = encodingOf(prep);
  const columns = new Array<unknown[] | undefined>(features.length);
  for (let i = 0; i < inputs.length; i++) {
    const { name, datatype } = inputs[i];
    const j = index.get(name);
    if (j === undefined) throw new TensorError(`unknown input '${name}'; the model's inputs are its features: ${listed(features.map((f) => f.name))}`);
    if (columns[j] !== undefined) throw new TensorError(`input '${name}' is given twice`);
    checkElements(name, features[j].type, datatype, values[i]);
    columns[j] = values[i];
  }
  for (let j = 0; j < features.length; j++) {
    if (columns[j] === undefined) throw new TensorError(`missing input '${features[j].name}': every feature of the model is an input (see the model's metadata)`);
  }
  const out = new Float32Array(rows * prep.inputSize);
  const cells = new Array<unknown>(features.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < features.length; j++) cells[j] = columns[j]![r];
    writer.writeCells(cells, r, out, r * prep.inputSize);
  }
  return out;
}

function checkElements(name: string, type: 'numeric' | 'categorical', datatype: string, values: unknown[]): void {
  if (type === 'categorical') {
    if (datatype !== 'BYTES') throw new TensorError(`input '${name}' is a categorical feature: send it as BYTES (strings), not ${datatype}`);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== null && typeof v !== 'string') throw new TensorError(`input '${name}' element ${i}: BYTES elements are strings (or null for missing), got ${JSON.stringify(v)}`);
    }
    return;
  }
  const kind = NUMERIC_KINDS[datatype];
  if (kind === undefined) throw new TensorError(`input '${name}' is a numeric feature: send it as FP32 (or FP64, FP16, INT*, UINT*, BOOL), not ${datatype}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const ok =
      kind === 'float' ? typeof v === 'number' : kind === 'bool' ? typeof v === 'boolean' : Number.isInteger(v) && (kind === 'integer' || (v as number) >= 0);
    if (!ok) throw new TensorError(`input '${name}' element ${i}: not a ${datatype} value (${JSON.stringify(v)}); null is a missing value`);
  }
}

/** The task names a request's `outputs` asks for, in its order (undefined: every task); each at most once. */
export function requestedOutputs(outputs: readonly { name: string }[] | undefined): string[] | undefined {
  if (outputs === undefined) return undefined;
  if (outputs.length === 0) throw new TensorError('outputs, when given, must name at least one task');
  const seen = new Set<string>();
  for (const { name } of outputs) {
    if (seen.has(name)) throw new TensorError(`output '${name}' is asked for twice`);
    seen.add(name);
  }
  return [...seen];
}

/** The error for an output the model does not have. */
export function unknownOutput(name: string, prep: Preprocessing): TensorError {
  return new TensorError(`unknown output '${name}'; the model's outputs are its tasks: ${listed(prep.tasks.map((t) => t.task))}`);
}

/**
 * The response tensor of a task for `rows` rows from its head's output: probabilities FP32 [N, L]
 * (classification and multilabel: the head's L outputs; binary: [1 − p, p] for its two labels) or
 * values FP32 [N, 1] (regression, in the target's units). The numbers are the same as /v1's.
 */
export function outputTensor(enc: LabelEncoder, out: Float32Array, rows: number): ResponseTensor {
  switch (enc.type) {
    case 'regression': {
      const data = new Array<number>(rows);
      for (let r = 0; r < rows; r++) data[r] = out[r] * enc.std + enc.mean;
      return { name: enc.task, datatype: 'FP32', shape: [rows, 1], data };
    }
    case 'binary': {
      const data = new Array<number>(2 * rows);
      for (let r = 0; r < rows; r++) {
        data[2 * r] = 1 - out[r];
        data[2 * r + 1] = out[r];
      }
      return { name: enc.task, datatype: 'FP32', shape: [rows, 2], data };
    }
    default: {
      const width = headWidth(enc);
      return { name: enc.task, datatype: 'FP32', shape: [rows, width], data: Array.from(out.subarray(0, rows * width)) };
    }
  }
}

/** Every task's response tensor, in the order of `tasks` (task indexes), from their outputs. */
export function outputTensors(prep: Preprocessing, tasks: readonly number[], outputs: HeadOutputs, rows: number): ResponseTensor[] {
  return tasks.map((t, i) => outputTensor(prep.tasks[t], outputs[i], rows));
}

/** Width of a task's output tensor: 2 for binary (both probabilities), else its head's width. */
export function outputWidth(enc: LabelEncoder): number {
  return enc.type === 'binary' ? 2 : headWidth(enc);
}

function listed(names: string[]): string {
  return names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')}, … (${names.length})`;
}
