import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from './spec.js';
import { headWidth, inputSizeOf, type Preprocessing } from './preprocessing.js';

const ScalarSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const Finite = Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE });
const Spread = Type.Number({ exclusiveMinimum: 0, maximum: Number.MAX_VALUE });
const Task = { task: Type.String({ pattern: NAME_PATTERN }), column: Type.String() };

/**
 * The shape of `Preprocessing` as data, for preprocessing that comes from outside (an imported
 * model archive): what encodeFeatures and decodePredictions rely on.
 */
export const PreprocessingSchema = Type.Object({
  features: Type.Array(
    Type.Union([
      Type.Object({ name: Type.String({ minLength: 1 }), type: Type.Literal('numeric'), mean: Finite, std: Spread }),
      Type.Object({ name: Type.String({ minLength: 1 }), type: Type.Literal('categorical'), categories: Type.Array(Type.String()) }),
    ]),
    { minItems: 1 },
  ),
  tasks: Type.Array(
    Type.Union([
      Type.Object({ ...Task, type: Type.Literal('classification'), labels: Type.Array(ScalarSchema, { minItems: 1 }) }),
      Type.Object({ ...Task, type: Type.Literal('binary'), labels: Type.Array(ScalarSchema, { minItems: 2, maxItems: 2 }) }),
      Type.Object({ ...Task, type: Type.Literal('multilabel'), labels: Type.Array(ScalarSchema, { minItems: 1 }) }),
      Type.Object({ ...Task, type: Type.Literal('regression'), mean: Finite, std: Spread }),
    ]),
    { minItems: 1 },
  ),
  inputSize: Type.Integer({ minimum: 1 }),
});

/** What the schema cannot say: names unique, inputSize the width the features encode to. Empty when consistent. */
export function preprocessingProblems(prep: Static<typeof PreprocessingSchema>): string[] {
  const p = prep as Preprocessing;
  const problems: string[] = [];
  const features = new Set(p.features.map((f) => f.name));
  if (features.size !== p.features.length) problems.push('feature names repeat');
  const tasks = new Set(p.tasks.map((t) => t.task));
  if (tasks.size !== p.tasks.length) problems.push('task names repeat');
  if (inputSizeOf(p.features) !== p.inputSize) problems.push(`inputSize is ${p.inputSize} but the features encode to ${inputSizeOf(p.features)} values`);
  return problems;
}

/** The output width of each head, in task order. */
export function headWidths(prep: Preprocessing): number[] {
  return prep.tasks.map(headWidth);
}
