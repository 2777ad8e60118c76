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

/** Units of each Dense layer of a stack (at most 8 layers of at most 4096 units), with the default stack. */
export function LayerSizes(description: string, defaults: number[]): TArray<TInteger> {
  return Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), { maxItems: 8, description, default: defaults });
}
