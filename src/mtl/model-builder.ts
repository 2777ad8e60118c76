import * as tf from '@tensorflow/tfjs';
import type { ResolvedSpec, TaskType } from './spec.js';

export interface HeadSpec {
  name: string;
  type: TaskType;
  width: number;
}

/**
 * Two views of one set of layers: `training` outputs each head's logits (for numerically stable
 * losses), `serving` outputs probabilities / values. Both list the heads in task order; the
 * serving output layer of a head carries its task's name.
 */
export interface MultiTaskModel {
  training: tf.LayersModel;
  serving: tf.LayersModel;
  heads: HeadSpec[];
}

export interface BuildModelArgs {
  inputSize: number;
  architecture: ResolvedSpec['architecture'];
  heads: HeadSpec[];
  seed: number;
}

/** Hard parameter sharing: shared Dense trunk h = f(x; θs), one head per task y_i = g_i(h; θi). */
export function buildHardSharingModel(args: BuildModelArgs): MultiTaskModel {
  const { architecture, heads } = args;
  let seed = args.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [args.inputSize], name: 'features' });
  let trunk: tf.SymbolicTensor = input;
  architecture.sharedLayers.forEach((units, i) => {
    trunk = tf.layers
      .dense({ units, activation: architecture.activation, kernelInitializer: init(), name: `shared_${i}` })
      .apply(trunk) as tf.SymbolicTensor;
  });
  const logits: tf.SymbolicTensor[] = [];
  const outputs: tf.SymbolicTensor[] = [];
  for (const head of heads) {
    let h = trunk;
    architecture.headLayers.forEach((units, j) => {
      h = tf.layers
        .dense({ units, activation: architecture.activation, kernelInitializer: init(), name: `${head.name}_hidden_${j}` })
        .apply(h) as tf.SymbolicTensor;
    });
    const z = tf.layers.dense({ units: head.width, kernelInitializer: init(), name: `${head.name}_logits` }).apply(h) as tf.SymbolicTensor;
    logits.push(z);
    outputs.push(tf.layers.activation({ activation: outputActivation(head.type), name: head.name }).apply(z) as tf.SymbolicTensor);
  }
  return {
    training: tf.model({ inputs: input, outputs: logits, name: 'mtl_training' }),
    serving: tf.model({ inputs: input, outputs, name: 'mtl' }),
    heads,
  };
}

/** Rebuilds the logits view of a loaded serving model (same layers, no copy of weights). */
export function trainingViewOf(serving: tf.LayersModel, heads: HeadSpec[]): MultiTaskModel {
  const logits = heads.map((h) => serving.getLayer(`${h.name}_logits`).output as tf.SymbolicTensor);
  return { serving, heads, training: tf.model({ inputs: serving.inputs, outputs: logits, name: 'mtl_training' }) };
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
