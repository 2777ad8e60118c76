import * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import { seededInit, variablesOf, type ArchitectureGraph, type BuildModelArgs, type HeadSpec, type MultiTaskModel } from '../model-builder.js';
import { GatedMixture } from '../layers/gated-mixture.js';

type Mmoe = Extract<ResolvedArchitecture, { type: 'mmoe' }>;

/**
 * Multi-gate Mixture-of-Experts (Ma et al., KDD 2018): `experts` shared expert networks on the input
 * (`shared_expert_<e>_<l>`), per task a softmax gate over the experts (`<task>_gate`), the gate's
 * mixture Σ_e g_e · expert_e (`<task>_mixture`), then the task's tower (`<task>_tower_<l>`) and
 * `<task>_logits`.
 */
export function buildMmoe(args: BuildModelArgs<Mmoe>): ArchitectureGraph {
  const { architecture: a, heads } = args;
  const init = seededInit(args.seed);
  const input = tf.input({ shape: [args.inputSize], name: 'features' });
  const experts = Array.from({ length: a.experts }, (_, e) =>
    denseStack(input, a.expertLayers, a.activation, init, (l) => expertName(e, l)),
  );
  const logits = heads.map((head) => {
    const gate = tf.layers.dense({ units: a.experts, activation: 'softmax', kernelInitializer: init(), name: `${head.name}_gate` }).apply(input) as tf.SymbolicTensor;
    const mixed = new GatedMixture({ name: `${head.name}_mixture` }).apply([gate, ...experts]) as tf.SymbolicTensor;
    const tower = denseStack(mixed, a.towerLayers, a.activation, init, (l) => `${head.name}_tower_${l}`);
    return tf.layers.dense({ units: head.width, kernelInitializer: init(), name: `${head.name}_logits` }).apply(tower) as tf.SymbolicTensor;
  });
  return { input, logits };
}

/** Shared variables: every expert's weights (each task's gate reads every expert). No regularisation. */
export function mmoeParts(serving: tf.LayersModel, _heads: HeadSpec[], a: Mmoe): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  return { sharedVariables: variablesOf(serving, Array.from({ length: a.experts }, (_, e) => a.expertLayers.map((_, l) => expertName(e, l))).flat()) };
}

function expertName(expert: number, layer: number): string {
  return `shared_expert_${expert}_${layer}`;
}

/** A stack of Dense layers named by `name(l)`; returns the input itself for an empty stack. */
export function denseStack(
  input: tf.SymbolicTensor,
  sizes: number[],
  activation: Mmoe['activation'],
  init: ReturnType<typeof seededInit>,
  name: (layer: number) => string,
): tf.SymbolicTensor {
  return sizes.reduce(
    (h, units, l) => tf.layers.dense({ units, activation, kernelInitializer: init(), name: name(l) }).apply(h) as tf.SymbolicTensor,
    input,
  );
}
