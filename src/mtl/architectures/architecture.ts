import type * as tf from '@tensorflow/tfjs';
import type { TObject } from '@sinclair/typebox';
import type { FieldError } from '../spec-error.js';
import type { TaskType } from '../spec-fields.js';

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
  /** Weights more than one task's loss reaches (trunk, experts, cross-stitched towers): task affinity and the gradient strategies work on these. */
  sharedVariables: tf.Variable[];
  /** The architecture's own loss term (soft-sharing's L2 tie between towers), added to every step's loss. */
  regularization?: () => tf.Scalar;
}

export interface BuildModelArgs<A> {
  inputSize: number;
  architecture: A;
  heads: HeadSpec[];
  seed: number;
}

/** What an architecture builds: one symbolic logits tensor per head (in head order), the layer of head t named `<task>_logits`. */
export interface ArchitectureGraph {
  input: tf.SymbolicTensor;
  logits: tf.SymbolicTensor[];
}

/** The parts of a model that depend on its architecture, found again in a loaded serving model by layer name. */
export type ArchitectureParts = Pick<MultiTaskModel, 'sharedVariables' | 'regularization'>;

/**
 * One way of sharing parameters between tasks: one file behind this interface plus one line in
 * the registry (architectures/index.ts). `A` is the resolved spec of the architecture, the
 * `Static` of `schema`.
 */
export interface Architecture<A> {
  /** The spec's `architecture` object for this type: `type` and every field with its default (variantSchema). */
  readonly schema: TObject;
  /** Problems the schema cannot express (e.g. soft-sharing needs a tower layer), pointers under /architecture. */
  check?(architecture: A): FieldError[];
  build(args: BuildModelArgs<A>): ArchitectureGraph;
  /** Shared variables and regularisation of a model built by `build` (or loaded from the store). */
  parts(serving: tf.LayersModel, heads: HeadSpec[], architecture: A): ArchitectureParts;
  /** Parameters and hidden units (task heads included), for the memory estimate. */
  size(architecture: A, inputSize: number, headWidths: number[]): { parameters: number; units: number };
}
