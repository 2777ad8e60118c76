import * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture, TaskType } from './spec.js';
import { buildHardSharing, hardSharingParts } from './architectures/hard-sharing.js';
import { buildSoftSharing, softSharingParts } from './architectures/soft-sharing.js';
import { buildMmoe, mmoeParts } from './architectures/mmoe.js';
import { buildPle, pleParts } from './architectures/ple.js';

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
  /** Weights more than one task's loss reaches (trunk, experts, cross-stitched towers): task affinity, PCGrad and GradNorm work on these. */
  sharedVariables: tf.Variable[];
  /** The architecture's own loss term (soft-sharing's L2 tie between towers), added to every step's loss. */
  regularization?: () => tf.Scalar;
}

export interface BuildModelArgs<A extends ResolvedArchitecture = ResolvedArchitecture> {
  inputSize: number;
  architecture: A;
  heads: HeadSpec[];
  seed: number;
}

/** What an architecture builds: one symbolic logits tensor per head (in head order). */
export interface ArchitectureGraph {
  input: tf.SymbolicTensor;
  logits: tf.SymbolicTensor[];
}

/** Builds the model for `args.architecture.type`; every head's logits layer is `<task>_logits`, its output layer `<task>`. */
export function buildModel(args: BuildModelArgs): MultiTaskModel {
  const a = args.architecture;
  const graph =
    a.type === 'hard-sharing' ? buildHardSharing({ ...args, architecture: a })
    : a.type === 'soft-sharing' ? buildSoftSharing({ ...args, architecture: a })
    : a.type === 'mmoe' ? buildMmoe({ ...args, architecture: a })
    : buildPle({ ...args, architecture: a });
  const outputs = args.heads.map((head, t) =>
    tf.layers.activation({ activation: outputActivation(head.type), name: head.name }).apply(graph.logits[t]) as tf.SymbolicTensor,
  );
  const serving = tf.model({ inputs: graph.input, outputs, name: 'mtl' });
  return trainingViewOf(serving, args.heads, a);
}

/**
 * The full training view of a serving model (built here or loaded from the store): the logits
 * model over the same layers, the shared variables and the regularisation of its architecture.
 */
export function trainingViewOf(serving: tf.LayersModel, heads: HeadSpec[], architecture: ResolvedArchitecture): MultiTaskModel {
  const logits = heads.map((h) => serving.getLayer(`${h.name}_logits`).output as tf.SymbolicTensor);
  const training = tf.model({ inputs: serving.inputs, outputs: logits, name: 'mtl_training' });
  const parts =
    architecture.type === 'hard-sharing' ? hardSharingParts(serving, heads, architecture)
    : architecture.type === 'soft-sharing' ? softSharingParts(serving, heads, architecture)
    : architecture.type === 'mmoe' ? mmoeParts(serving, heads, architecture)
    : pleParts(serving, heads, architecture);
  return { serving, training, heads, ...parts };
}

/** The variables of the named layers, in order. */
export function variablesOf(model: tf.LayersModel, layerNames: string[]): tf.Variable[] {
  return layerNames.flatMap((n) => model.getLayer(n).trainableWeights.map((w) => w.read() as tf.Variable));
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

/** Seeded Glorot-uniform initialisers, one fresh seed per call, so a build repeats for the same seed. */
export function seededInit(seed: number): () => ReturnType<typeof tf.initializers.glorotUniform> {
  let s = seed;
  return () => tf.initializers.glorotUniform({ seed: s++ });
}
