import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../spec-fields.js';
import { SeededDropout } from '../layers/seeded-dropout.js';

/** Building blocks the architectures share. */

/** Seeded Glorot-uniform initialisers, one fresh seed per call, so a build repeats for the same seed. */
export function seededInit(seed: number): () => ReturnType<typeof tf.initializers.glorotUniform> {
  let s = seed;
  return () => tf.initializers.glorotUniform({ seed: s++ });
}

/** The variables of the named layers, in order. */
export function variablesOf(model: tf.LayersModel, layerNames: string[]): tf.Variable[] {
  return layerNames.flatMap((n) => model.getLayer(n).trainableWeights.map((w) => w.read() as tf.Variable));
}

/** The dropout of an architecture's hidden layers: its rate and the build's seed; undefined when the rate is 0 (no layer at all). */
export interface HiddenDropout {
  rate: number;
  seed: number;
}

export function hiddenDropout(rate: number | undefined, seed: number): HiddenDropout | undefined {
  return rate !== undefined && rate > 0 ? { rate, seed } : undefined;
}

/** `h` through a seeded dropout layer `<layer>_dropout` (training only), or `h` itself without dropout. */
export function withDropout(h: tf.SymbolicTensor, dropout: HiddenDropout | undefined, layer: string): tf.SymbolicTensor {
  return dropout ? (new SeededDropout({ rate: dropout.rate, seed: dropout.seed, name: `${layer}_dropout` }).apply(h) as tf.SymbolicTensor) : h;
}

/** A stack of Dense layers named by `name(l)`, each followed by dropout when given; returns the input itself for an empty stack. */
export function denseStack(
  input: tf.SymbolicTensor,
  sizes: number[],
  activation: Activation,
  init: ReturnType<typeof seededInit>,
  name: (layer: number) => string,
  dropout?: HiddenDropout,
): tf.SymbolicTensor {
  return sizes.reduce(
    (h, units, l) => withDropout(tf.layers.dense({ units, activation, kernelInitializer: init(), name: name(l) }).apply(h) as tf.SymbolicTensor, dropout, name(l)),
    input,
  );
}

/** Parameters, hidden units and output width of a Dense stack on an input of `input` units. */
export function stackSize(stack: number[], input: number): { params: number; units: number; out: number } {
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

/** Parameters and units of one head per task: its hidden `layers`, then its logits. */
export function headsSize(input: number, layers: number[], headWidths: number[]): { params: number; units: number } {
  return headWidths.reduce(
    (acc, w) => {
      const h = stackSize([...layers, w], input);
      return { params: acc.params + h.params, units: acc.units + h.units };
    },
    { params: 0, units: 0 },
  );
}

/** Parameters and units of `count` experts on the input, a gate per task over them, and the towers and heads. */
export function expertsSize(count: number, expertLayers: number[], towerLayers: number[], inputSize: number, headWidths: number[]): { parameters: number; units: number } {
  const expert = stackSize(expertLayers, inputSize);
  const gates = headWidths.length * (inputSize * count + count);
  const heads = headsSize(expert.out, towerLayers, headWidths);
  return { parameters: count * expert.params + gates + heads.params, units: count * expert.units + heads.units };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
