import { Type, type Static, type TArray, type TInteger } from '@sinclair/typebox';

/** Field schemas more than one part of the spec uses (tasks, architectures); kept apart so those parts need not import each other. */

export const TaskTypeSchema = Type.Union([
  Type.Literal('classification'),
  Type.Literal('binary'),
  Type.Literal('multilabel'),
  Type.Literal('regression'),
]);
export type TaskType = Static<typeof TaskTypeSchema>;

export const ActivationSchema = Type.Union([Type.Literal('relu'), Type.Literal('tanh'), Type.Literal('elu')], { default: 'relu', description: 'activation of the hidden layers' });
export type Activation = Static<typeof ActivationSchema>;

/**
 * Dropout rate after each hidden Dense layer (training only; 0 adds no layer, so a model without it
 * is unchanged). Optional in the resolved type too: models saved before it existed have none.
 */
export const DropoutSchema = Type.Optional(Type.Number({
  minimum: 0,
  exclusiveMaximum: 1,
  default: 0,
  description: 'dropout rate after each hidden Dense layer, in training only (seeded; 0: none)',
}));

/** Units of each Dense layer of a stack (at most 8 layers of at most 4096 units), with the default stack. */
export function LayerSizes(description: string, defaults: number[]): TArray<TInteger> {
  return Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), { maxItems: 8, description, default: defaults });
}

export const CascadeModeSchema = Type.Union([Type.Literal('esmm'), Type.Literal('aitm')], {
  description:
    'How a task with dependsOn builds on its parent: "esmm" (Entire Space Multi-task Model: its head learns p(task | parent) and its loss is on p(parent) · p(task | parent) over every row) or "aitm" (Adaptive Information Transfer: an attention unit passes the parent\'s tower into this task\'s, and a calibrator keeps p(task) ≤ p(parent)). Default esmm.',
});
export type CascadeMode = Static<typeof CascadeModeSchema>;

/** AITM's calibrator weight when a task does not set one: the authors' example run (xidongbo/AITM, `--weight 0.6`). */
export const DEFAULT_CALIBRATION = 0.6;

/**
 * A task's place in a cascade (its label only happens after its parent's: a conversion after a click).
 * Both tasks are binary; the task's label means "parent and task happened", on every row.
 */
export type Cascade = { dependsOn: string; mode: 'esmm' } | { dependsOn: string; mode: 'aitm'; calibration: number };
