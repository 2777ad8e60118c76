import { Type } from '@sinclair/typebox';

const LabelSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const ModelSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  jobId: Type.String(),
  datasetId: Type.String(),
  tasks: Type.Array(
    Type.Object({
      name: Type.String(),
      column: Type.String(),
      type: Type.String(),
      weight: Type.Number(),
      labels: Type.Optional(Type.Array(LabelSchema, { description: 'Label set, as written in the dataset (classification, binary: [negative, positive], multilabel).' })),
    }),
  ),
  features: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  architecture: Type.Unknown(),
  training: Type.Unknown(),
  metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'Per task: validation metrics at the kept epoch.' }),
  bestEpoch: Type.Integer(),
  epochsRun: Type.Integer(),
  rows: Type.Object({ train: Type.Integer(), validation: Type.Integer() }),
  trainingTimeMs: Type.Number(),
  samplesPerSec: Type.Number(),
  backend: Type.String(),
  warnings: Type.Array(Type.String()),
  preprocessing: Type.Unknown({ description: 'Scaling, vocabularies and label encoders fitted on the training split.' }),
});

export const ModelListSchema = Type.Object({ models: Type.Array(Type.Omit(ModelSchema, ['preprocessing'])) });

export const PredictRequestSchema = (maxRows: number) =>
  Type.Object(
    {
      instances: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
        minItems: 1,
        maxItems: maxRows,
        description: 'Rows to predict: each maps every feature name to its value (null for missing).',
      }),
    },
    { additionalProperties: false },
  );

export const PredictResponseSchema = Type.Object({
  modelId: Type.String(),
  predictions: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
    description:
      'One entry per instance with every task: classification/binary {label, probabilities}, multilabel {labels, probabilities}, regression {value}.',
  }),
});
