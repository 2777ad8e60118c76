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
 * serving output layer of a head carries its task's name, and reads the head's training output.
 */
export interface MultiTaskModel {
  training: tf.LayersModel;
  serving: tf.LayersModel;
  heads: HeadSpec[];
  /** Weights more than one task's loss reaches (trunk, experts, cross-stitched towers): task affinity and the gradient strategies work on these. */
  sharedVariables: tf.Variable[];
  /** The architecture's own loss term (soft-sharing's L2 tie between towers), added to every step's loss. */
  regularization?: (step: StepTensors) => tf.Scalar;
}

/** What a step's regularisation may read: the batch's encoded inputs and every head's training output (logits), in head order. */
export interface StepTensors {
  x: tf.Tensor;
  logits: tf.Tensor[];
}

export interface BuildModelArgs<A> {
  inputSize: number;
  architecture: A;
  heads: HeadSpec[];
  seed: number;
}

/**
 * What an architecture builds: each head's representation (its tower's output, in head order).
 * The model builder puts the head on it: the logits layer `<task>_logits`, so every architecture
 * ends its heads the same way.
 */
export interface ArchitectureGraph {
  input: tf.SymbolicTensor;
  towers: tf.SymbolicTensor[];
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
  /** Parameters and hidden units (the task heads' logits layers included), for the memory estimate. */
  size(architecture: A, inputSize: number, headWidths: number[]): { parameters: number; units: number };
}
