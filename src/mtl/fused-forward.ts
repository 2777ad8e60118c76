import * as tf from '@tensorflow/tfjs';
import { DENSE_ACTIVATIONS, DENSE_KERNEL } from './blas-backend.js';

/** The model's outputs for a batch, computed from the same variables as `model.apply` does. */
export type FusedForward = (x: tf.Tensor) => tf.Tensor[];

interface DenseStep {
  name: string;
  input: string;
  kernel: tf.Variable;
  bias: tf.Variable | null;
  activation: string;
}

/**
 * A model made only of Dense layers (a hard-sharing trunk and heads: the usual case) compiled into
 * one `MtlDense` kernel per layer, on a backend that has that kernel (`blas`). Under a gradient
 * tape, tfjs-layers runs each Dense as a matmul, a bias add and an activation, each recorded with
 * clones of its inputs, and walks the layer graph in JS; the fused kernel computes the same
 * float32 values (x·W + b, then the activation) and records one node whose gradient runs one
 * activation-gradient kernel and the two or three products actually needed (none for the input
 * batch). Returns null, and the trainer keeps `model.apply`, for any other layer (custom layers of
 * soft sharing, MMoE, PLE; dropout; an unsupported activation), a layer applied twice, or a model
 * with more than one input.
 */
export function compileFusedForward(model: tf.LayersModel): FusedForward | null {
  if (tf.getKernel(DENSE_KERNEL, tf.getBackend()) === undefined) return null;
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
  return (x) => {
    if (x.rank !== 2) throw new Error(`fused forward: a 2-d batch expected, got shape [${x.shape}]`);
    const values = new Map<string, tf.Tensor>([[inputName, x]]);
    for (const s of steps) {
      const inputs: tf.NamedTensorMap = s.bias ? { x: values.get(s.input)!, kernel: s.kernel, bias: s.bias } : { x: values.get(s.input)!, kernel: s.kernel };
      values.set(s.name, tf.engine().runKernel(DENSE_KERNEL, inputs, { activation: s.activation }) as tf.Tensor);
    }
    return outputs.map((o) => values.get(o)!);
  };
}
