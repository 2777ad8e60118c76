import * as tf from '@tensorflow/tfjs';
import type { TaskType } from './spec-fields.js';
import { architectureOf, type BuildModelArgs, type HeadSpec, type MultiTaskModel, type ResolvedArchitecture } from './architectures/index.js';

export type { HeadSpec, MultiTaskModel } from './architectures/index.js';

/** Seeds of the heads' own layers start here above the build's seed (the architecture counts up from the seed itself). */
const HEAD_SEEDS = 100_000;

/**
 * Builds the model of `args.architecture` (see the registry, architectures/index.ts), then each
 * head on its tower: its logits layer `<task>_logits` and output layer `<task>`.
 */
export function buildModel(args: BuildModelArgs<ResolvedArchitecture>): MultiTaskModel {
  const graph = architectureOf(args.architecture).build(args);
  const outputs = args.heads.map((head, t) => {
    const logits = tf.layers.dense({ units: head.width, kernelInitializer: tf.initializers.glorotUniform({ seed: args.seed + HEAD_SEEDS + t }), name: `${head.name}_logits` }).apply(graph.towers[t]);
    return tf.layers.activation({ activation: outputActivation(head.type), name: head.name }).apply(logits) as tf.SymbolicTensor;
  });
  const serving = tf.model({ inputs: graph.input, outputs, name: 'mtl' });
  return trainingViewOf(serving, args.heads, args.architecture);
}

/**
 * The full training view of a serving model (built here or loaded from the store): the logits
 * model over the same layers (each head's training output is the input of its output layer
 * `<task>`), the shared variables and the regularisation of its architecture.
 */
export function trainingViewOf(serving: tf.LayersModel, heads: HeadSpec[], architecture: ResolvedArchitecture): MultiTaskModel {
  const logits = heads.map((h) => serving.getLayer(h.name).input as tf.SymbolicTensor);
  const training = tf.model({ inputs: serving.inputs, outputs: logits, name: 'mtl_training' });
  return { serving, training, heads, ...architectureOf(architecture).parts(serving, heads, architecture) };
}

function outputActivation(type: TaskType): 'softmax' | 'sigmoid' | 'linear' {
  switch (type) {
    case 'classification':
      return 'softmax';
    case 'binary':
    case 'multilabel':
      return 'sigmoid';
    case 'regression':
      return 'linear';
  }
}

/** A model's outputs as a list, whether it has one head or many. */
export function asList(out: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(out) ? out : [out];
}
