import type * as tf from '@tensorflow/tfjs';
import type { TObject } from '@sinclair/typebox';
import type { FieldError } from '../spec-error.js';
import type { Cascade, TaskType } from '../spec-fields.js';

export interface HeadSpec {
  name: string;
  type: TaskType;
  width: number;
  /** A cascaded task (binary, on a binary parent): how its head builds on the parent's (see cascade.ts). */
  cascade?: Cascade;
}

/**
 * Two views of one set of layers: `training` outputs each head's logits (for numerically stable
 * losses), `serving` outputs probabilities / values. Both list the heads in task order; the
 * serving output layer of a head carries its task's name, and reads the head's training output.
 * A cascaded task's training output is the logit of its label's event (the joint one, see
 * cascade.ts), and the serving model adds its conditional probability after the heads, as
 * `<task>_conditional`, in task order.
 */
export interface MultiTaskModel {
  training: tf.LayersModel;
  serving: tf.LayersModel;
  heads: HeadSpec[];
  /** Weights more than one task's loss reaches (trunk, experts, cross-stitched towers): task affinity and the gradient strategies work on these. */
  sharedVariables: tf.Variable[];
  /** Extra loss terms (soft-sharing's L2 tie between towers, DSelect-k's gate penalties, AITM's calibrator), added to every step's loss. */
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
 * The model builder puts the head on it: the logits layer `<task>_logits` (and, for cascaded tasks,
 * the transfer between towers; see cascade.ts), so every architecture ends its heads the same way.
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
  /** Problems the schema cannot express (e.g. soft-sharing needs a tower layer, a branched tree must hold each task once), pointers under /architecture. `tasks`: the spec's task names in order. */
  check?(architecture: A, tasks: string[]): FieldError[];
  /** Defaults that depend on the tasks (a branched tree when the spec gives none), filled in after `check` found nothing. */
  resolve?(architecture: A, tasks: string[]): A;
  build(args: BuildModelArgs<A>): ArchitectureGraph;
  /** Shared variables and regularisation of a model built by `build` (or loaded from the store). */
  parts(serving: tf.LayersModel, heads: HeadSpec[], architecture: A): ArchitectureParts;
  /** Parameters and hidden units (the task heads' logits layers included), for the memory estimate; `tasks` names the heads of `headWidths`. */
  size(architecture: A, inputSize: number, headWidths: number[], tasks: string[]): { parameters: number; units: number };
}
