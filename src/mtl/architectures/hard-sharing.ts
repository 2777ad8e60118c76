import * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import { seededInit, variablesOf, type ArchitectureGraph, type BuildModelArgs, type HeadSpec, type MultiTaskModel } from '../model-builder.js';

type HardSharing = Extract<ResolvedArchitecture, { type: 'hard-sharing' }>;

/** Hard parameter sharing: shared Dense trunk h = f(x; θs) (`shared_<i>`), one head per task y_i = g_i(h; θi). */
export function buildHardSharing(args: BuildModelArgs<HardSharing>): ArchitectureGraph {
  const { architecture: a, heads } = args;
  const init = seededInit(args.seed);
  const input = tf.input({ shape: [args.inputSize], name: 'features' });
  let trunk: tf.SymbolicTensor = input;
  a.sharedLayers.forEach((units, i) => {
    trunk = tf.layers.dense({ units, activation: a.activation, kernelInitializer: init(), name: `shared_${i}` }).apply(trunk) as tf.SymbolicTensor;
  });
  const logits = heads.map((head) => {
    let h = trunk;
    a.headLayers.forEach((units, j) => {
      h = tf.layers.dense({ units, activation: a.activation, kernelInitializer: init(), name: `${head.name}_hidden_${j}` }).apply(h) as tf.SymbolicTensor;
    });
    return tf.layers.dense({ units: head.width, kernelInitializer: init(), name: `${head.name}_logits` }).apply(h) as tf.SymbolicTensor;
  });
  return { input, logits };
}

export function hardSharingParts(serving: tf.LayersModel, _heads: HeadSpec[], a: HardSharing): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  return { sharedVariables: variablesOf(serving, a.sharedLayers.map((_, i) => `shared_${i}`)) };
}
