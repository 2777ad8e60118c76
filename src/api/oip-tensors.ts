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

const INTEGER = new Set(['INT8', 'INT16', 'INT32', 'INT64']);
const UNSIGNED = new Set(['UINT8', 'UINT16', 'UINT32', 'UINT64']);
const FLOAT = new Set(['FP16', 'FP32', 'FP64']);

/** The request's inputs by name, each as its N values (flattened from [[v], …] for shape [N, 1]), and N. */
export interface RequestColumns {
  rows: number;
  columns: Map<string, { datatype: string; values: unknown[] }>;
}

/** Checks every input's shape ([N] or [N, 1], one N for all) and data length; no model needed yet. */
export function readInputs(inputs: readonly RequestTensor[]): RequestColumns {
  const rows = inputs[0].shape[0];
  const columns = new Map<string, { datatype: string; values: unknown[] }>();
  for (const input of inputs) {
    const { name, shape, data } = input;
    if (columns.has(name)) throw new TensorError(`input '${name}' is given twice`);
    if (shape.length > 2 || (shape.length === 2 && shape[1] !== 1)) throw new TensorError(`input '${name}' has shape [${shape}]; each feature is a tensor of shape [N] or [N, 1]`);
    if (shape[0] !== rows) throw new TensorError(`input '${name}' has ${shape[0]} rows, input '${inputs[0].name}' ${rows}; every input must have the same N`);
    columns.set(name, { datatype: input.datatype, values: flatten(name, data, rows) });
  }
  if (rows === 0) throw new TensorError('the inputs hold no rows (N = 0)');
  return { rows, columns };
}

function flatten(name: string, data: unknown[], rows: number): unknown[] {
  if (data.length === rows && !data.some(Array.isArray)) return data;
  if (data.length === rows && data.every((d) => Array.isArray(d) && d.length === 1)) return data.map((d) => (d as unknown[])[0]);
  throw new TensorError(`input '${name}': data must hold ${rows} values (flat, or [[v], …] for shape [${rows}, 1]), got ${data.length} entries`);
}

/**
 * Encodes the request's columns for the model: every feature must be an input (and nothing else),
 * numeric features as FP*, INT*, UINT* or BOOL, categorical ones as BYTES; elements are checked
 * against their datatype (null: a missing value). Encoded exactly as /v1 encodes instances.
 */
export function encodeInputs(prep: Preprocessing, { rows, columns }: RequestColumns): Float32Array {
  const features = prep.features;
  const known = new Set(features.map((f) => f.name));
  for (const name of columns.keys()) if (!known.has(name)) throw new TensorError(`unknown input '${name}'; the model's inputs are its features: ${listed(features.map((f) => f.name))}`);
  const values = features.map((f) => {
    const column = columns.get(f.name);
    if (!column) throw new TensorError(`missing input '${f.name}': every feature of the model is an input (see the model's metadata)`);
    checkElements(f.name, f.type, column.datatype, column.values);
    return column.values;
  });
  const out = new Float32Array(rows * prep.inputSize);
  const writer = new FeatureWriter(prep);
  const cells = new Array<unknown>(features.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < values.length; j++) cells[j] = values[j][r];
    writer.writeCells(cells, r, out, r * prep.inputSize);
  }
  return out;
}

function checkElements(name: string, type: 'numeric' | 'categorical', datatype: string, values: unknown[]): void {
  if (type === 'categorical') {
    if (datatype !== 'BYTES') throw new TensorError(`input '${name}' is a categorical feature: send it as BYTES (strings), not ${datatype}`);
    const bad = values.findIndex((v) => v !== null && typeof v !== 'string');
    if (bad >= 0) throw new TensorError(`input '${name}' element ${bad}: BYTES elements are strings (or null for missing), got ${JSON.stringify(values[bad])}`);
    return;
  }
  let ok: (v: unknown) => boolean;
  if (FLOAT.has(datatype)) ok = (v) => typeof v === 'number';
  else if (INTEGER.has(datatype)) ok = (v) => Number.isInteger(v);
  else if (UNSIGNED.has(datatype)) ok = (v) => Number.isInteger(v) && (v as number) >= 0;
  else if (datatype === 'BOOL') ok = (v) => typeof v === 'boolean';
  else throw new TensorError(`input '${name}' is a numeric feature: send it as FP32 (or FP64, FP16, INT*, UINT*, BOOL), not ${datatype}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && !ok(v)) throw new TensorError(`input '${name}' element ${i}: not a ${datatype} value (${JSON.stringify(v)}); null is a missing value`);
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
