import * as tf from '@tensorflow/tfjs';
import { DENSE_ACTIVATIONS, DENSE_HEADS_KERNEL, DENSE_KERNEL, hasKernel } from './blas/index.js';

/** The model's outputs for a batch, computed from the same variables as `model.apply` does. */
export type FusedForward = (x: tf.Tensor) => tf.Tensor[];

interface DenseStep {
  name: string;
  input: string;
  kernel: tf.Variable;
  bias: tf.Variable | null;
  activation: string;
}

/** Linear heads with biases reading one input: one product for all of them (`MtlDenseHeads`). */
interface HeadsStep {
  input: string;
  heads: DenseStep[];
}

/**
 * A model made only of Dense layers (a hard-sharing trunk and heads: the usual case) compiled into
 * one `MtlDense` kernel per layer, on a backend that has that kernel (`blas`). Under a gradient
 * tape, tfjs-layers runs each Dense as a matmul, a bias add and an activation, each recorded with
 * clones of its inputs, and walks the layer graph in JS; the fused kernel computes the same
 * float32 values (x·W + b, then the activation) and records one node whose gradient runs one
 * activation-gradient kernel and the two or three products actually needed (none for the input
 * batch). Linear heads with biases that read the same layer (the output layers of hard sharing,
 * two or more) become one `MtlDenseHeads` kernel: one product for all heads forward, two backward,
 * instead of a kernel, two products, a bias sum and a gradient add per head — what keeps the cost of
 * 100 heads far below 100 × one head. Returns null, and the trainer keeps `model.apply`, for any
 * other layer (custom layers of
 * soft sharing, MMoE, PLE; dropout; an unsupported activation), a layer applied twice, or a model
 * with more than one input.
 */
export function compileFusedForward(model: tf.LayersModel): FusedForward | null {
  if (!hasKernel(DENSE_KERNEL)) return null;
  if (model.inputs.length !== 1) return null;
  const inputName = model.inputs[0].sourceLayer.name;
  const steps: DenseStep[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    if (cls !== 'Dense' || layer.inboundNodes.length !== 1) return null;
    const inbound = layer.inboundNodes[0].inboundLayers;
    if (inbound.length !== 1) return null;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = config.activation ?? 'linear';
    if (!(DENSE_ACTIVATIONS as readonly string[]).includes(activation)) return null;
    const weights = layer.weights.map((w) => w.read() as tf.Variable);
    if (weights.length !== (config.useBias === false ? 1 : 2) || weights[0].rank !== 2) return null;
    steps.push({ name: layer.name, input: inbound[0].name, kernel: weights[0], bias: weights[1] ?? null, activation });
  }
  const outputs = model.outputs.map((o) => o.sourceLayer.name);
  const known = new Set([inputName, ...steps.map((s) => s.name)]);
  if (!outputs.every((o) => known.has(o))) return null;
  const plan = groupHeads(steps, new Set(outputs));
  return (x) => {
    if (x.rank !== 2) throw new Error(`fused forward: a 2-d batch expected, got shape [${x.shape}]`);
    const values = new Map<string, tf.Tensor>([[inputName, x]]);
    for (const s of plan) {
      if ('heads' in s) {
        const inputs: tf.NamedTensorMap = { x: values.get(s.input)! };
        s.heads.forEach((h, t) => {
          inputs[`k${t}`] = h.kernel;
          inputs[`b${t}`] = h.bias!;
        });
        const out = tf.engine().runKernel(DENSE_HEADS_KERNEL, inputs, { widths: s.heads.map((h) => h.kernel.shape[1] as number) }) as tf.Tensor[];
        s.heads.forEach((h, t) => values.set(h.name, out[t + 1]));
        continue;
      }
      const inputs: tf.NamedTensorMap = s.bias ? { x: values.get(s.input)!, kernel: s.kernel, bias: s.bias } : { x: values.get(s.input)!, kernel: s.kernel };
      values.set(s.name, tf.engine().runKernel(DENSE_KERNEL, inputs, { activation: s.activation }) as tf.Tensor);
    }
    return outputs.map((o) => values.get(o)!);
  };
}

/**
 * The steps in order, with the linear, biased output layers that read the same layer (and feed
 * nothing else) grouped into one heads step, placed where the last of them was.
 */
function groupHeads(steps: DenseStep[], outputs: Set<string>): (DenseStep | HeadsStep)[] {
  const consumed = new Set(steps.map((s) => s.input));
  const isHead = (s: DenseStep) => outputs.has(s.name) && !consumed.has(s.name) && s.activation === 'linear' && s.bias !== null;
  const groups = new Map<string, DenseStep[]>();
  for (const s of steps) if (isHead(s)) groups.set(s.input, [...(groups.get(s.input) ?? []), s]);
  const plan: (DenseStep | HeadsStep)[] = [];
  for (const s of steps) {
    const group = groups.get(s.input);
    if (!isHead(s) || !group || group.length < 2) plan.push(s);
    else if (group[group.length - 1] === s) plan.push({ input: s.input, heads: group });
  }
  return plan;
}
