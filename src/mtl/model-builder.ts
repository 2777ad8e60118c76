import * as tf from '@tensorflow/tfjs';
import type { TaskType } from './spec-fields.js';
import { architectureOf, type BuildModelArgs, type HeadSpec, type MultiTaskModel, type ResolvedArchitecture } from './architectures/index.js';

export type { HeadSpec, MultiTaskModel } from './architectures/index.js';

/** Builds the model of `args.architecture` (see the registry, architectures/index.ts); every head's logits layer is `<task>_logits`, its output layer `<task>`. */
export function buildModel(args: BuildModelArgs<ResolvedArchitecture>): MultiTaskModel {
  const graph = architectureOf(args.architecture).build(args);
  const outputs = args.heads.map((head, t) =>
    tf.layers.activation({ activation: outputActivation(head.type), name: head.name }).apply(graph.logits[t]) as tf.SymbolicTensor,
  );
  const serving = tf.model({ inputs: graph.input, outputs, name: 'mtl' });
  return trainingViewOf(serving, args.heads, args.architecture);
}

/**
 * The full training view of a serving model (built here or loaded from the store): the logits
 * model over the same layers, the shared variables and the regularisation of its architecture.
 */
export function trainingViewOf(serving: tf.LayersModel, heads: HeadSpec[], architecture: ResolvedArchitecture): MultiTaskModel {
  const logits = heads.map((h) => serving.getLayer(`${h.name}_logits`).output as tf.SymbolicTensor);
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
