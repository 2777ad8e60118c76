import { Type } from '@sinclair/typebox';
import { NextCursorSchema, PageQuerySchema } from '../pagination.js';

const LabelSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const ModelSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.Optional(
    Type.Integer({ minimum: 1, description: 'Training the same name again makes a new version: 1, 2, 3, … (absent on models saved before versions existed).' }),
  ),
  aliases: Type.Optional(Type.Array(Type.String(), { description: 'Aliases of the name that point at this version (name@alias means this model).' })),
  importedFrom: Type.Optional(
    Type.Object(
      { id: Type.String(), name: Type.String(), version: Type.Optional(Type.Integer()), importedAt: Type.String({ format: 'date-time' }) },
      { description: 'Set on a model imported from an archive: the id, name and version it had where it was exported.' },
    ),
  ),
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
      dependsOn: Type.Optional(Type.String({ description: 'Cascaded tasks: the task whose event comes first.' })),
      mode: Type.Optional(Type.String({ description: 'Cascaded tasks: esmm or aitm.' })),
      calibration: Type.Optional(Type.Number({ description: 'Cascaded aitm tasks: the calibrator weight.' })),
    }),
  ),
  features: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  architecture: Type.Unknown({ description: 'Resolved architecture with every default filled in.' }),
  lossWeighting: Type.Unknown({ description: 'Resolved loss-weighting strategy.' }),
  training: Type.Unknown(),
  metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'Per task: validation metrics at the kept epoch.' }),
  bestEpoch: Type.Integer({ description: 'Epoch whose weights were kept (best value of training.monitor).' }),
  finalWeights: Type.Record(Type.String(), Type.Number(), { description: 'Loss weight of each task at the kept epoch.' }),
  affinity: Type.Union([
    Type.Object({
      method: Type.Literal('gradient-cosine'),
      tasks: Type.Array(Type.String()),
      matrix: Type.Array(Type.Array(Type.Number()), { description: 'matrix[i][j]: mean cosine similarity of tasks i and j gradients on the shared weights over sampled steps.' }),
      samples: Type.Integer(),
      groups: Type.Array(Type.Array(Type.String()), { description: 'Suggested grouping: tasks that help each other.' }),
      threshold: Type.Number(),
      perEpoch: Type.Optional(
        Type.Array(Type.Object({ epoch: Type.Integer(), matrix: Type.Array(Type.Array(Type.Number())) }), {
          description: 'The matrix of each epoch (over that epoch\'s sampled steps), in the order of tasks: how the tasks\' relations moved during training.',
        }),
      ),
    }),
    Type.Null(),
  ]),
  baselines: Type.Union([
    Type.Object({
      tasks: Type.Record(
        Type.String(),
        Type.Object({
          metricName: Type.String(),
          mtl: Type.Union([Type.Number(), Type.Null()]),
          stl: Type.Union([Type.Number(), Type.Null()]),
          gain: Type.Union([Type.Number(), Type.Null()]),
          linear: Type.Optional(
            Type.Union([
              Type.Object({
                metric: Type.String({ description: 'The task\'s headline metric (accuracy, auc, microF1, rmse).' }),
                value: Type.Union([Type.Number(), Type.Null()], { description: 'The linear reference\'s value on the validation split.' }),
                lambda: Type.Number({ description: 'Its L2 regularisation, chosen on the validation split.' }),
              }),
              Type.Null(),
            ], { description: 'The task\'s linear reference on the same split: ridge regression, or L2-regularised logistic / softmax regression (absent on models trained before it existed).' }),
          ),
        }),
      ),
      deltaM: Type.Union([Type.Number(), Type.Null()], { description: 'Mean relative gain of MTL over single-task models (0.05 = 5% better).' }),
    }),
    Type.Null(),
  ]),
  epochsRun: Type.Integer(),
  rows: Type.Object({ train: Type.Integer(), validation: Type.Integer() }),
  trainingTimeMs: Type.Number(),
  samplesPerSec: Type.Number(),
  backend: Type.String(),
  backendAdapter: Type.Optional(Type.String({ description: 'The GPU the model trained on (webgpu backend): vendor, architecture and description as WebGPU reports them; ", software" for a software adapter.' })),
  warnings: Type.Array(Type.String()),
  preprocessing: Type.Unknown({ description: 'Scaling, vocabularies and label encoders fitted on the training split.' }),
});

export const ModelListSchema = Type.Object({ models: Type.Array(Type.Omit(ModelSchema, ['preprocessing'])), nextCursor: NextCursorSchema });

export const ModelListQuerySchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, description: 'Only the versions of this model name, highest version first.' })),
  ...PageQuerySchema.properties,
});

export const ModelRefParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, description: 'A model id (UUID), a model name (its latest version), name@version (e.g. digits-mtl@2) or name@alias (e.g. digits-mtl@prod).', examples: ['digits-mtl'] }),
});

export const PredictRequestSchema = (maxRows: number) =>
  Type.Object(
    {
      instances: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
        minItems: 1,
        maxItems: maxRows,
        description: 'Rows to predict: each maps every feature name to its value (null for missing).',
      }),
      tasks: Type.Optional(
        Type.Array(Type.String({ minLength: 1 }), {
          minItems: 1,
          uniqueItems: true,
          description: 'Only these tasks, in this order (default: every task). Heads not asked for are not computed: the request runs on a sub-model with only these outputs.',
        }),
      ),
    },
    { additionalProperties: false },
  );

const ProbabilitiesSchema = Type.Record(Type.String(), Type.Number({ minimum: 0, maximum: 1 }), { description: 'Probability per label.', examples: [{ even: 0.99, odd: 0.01 }] });

export const ClassPredictionSchema = Type.Object(
  {
    label: LabelSchema,
    probabilities: ProbabilitiesSchema,
    conditional: Type.Optional(
      Type.Object(
        { given: Type.String({ description: 'The parent task.' }), label: LabelSchema, probabilities: ProbabilitiesSchema },
        { description: 'Cascaded task (dependsOn): the probabilities given that the parent\'s event happened.' },
      ),
    ),
  },
  { title: 'ClassPrediction', description: 'A classification or binary task: the most probable label and every label\'s probability (softmax, or sigmoid for binary).' },
);
export const MultilabelPredictionSchema = Type.Object(
  { labels: Type.Array(LabelSchema, { description: 'Every label whose probability is at least 0.5.' }), probabilities: ProbabilitiesSchema },
  { title: 'MultilabelPrediction', description: 'A multilabel task: the labels that apply and each label\'s independent probability.' },
);
export const RegressionPredictionSchema = Type.Object(
  { value: Type.Number({ description: 'In the units of the target column (de-standardised).' }) },
  { title: 'RegressionPrediction', description: 'A regression task.' },
);
export const TaskPredictionSchema = Type.Union([ClassPredictionSchema, MultilabelPredictionSchema, RegressionPredictionSchema], {
  description: 'One task\'s prediction; its shape follows the task type.',
});

export const PredictResponseSchema = Type.Object({
  modelId: Type.String({ description: 'Id of the model that answered (the version a name resolved to).' }),
  name: Type.String(),
  version: Type.Optional(Type.Integer()),
  predictions: Type.Array(Type.Record(Type.String(), TaskPredictionSchema, { description: 'Task name → that task\'s prediction.' }), {
    description:
      'One entry per instance with every task: classification/binary {label, probabilities}, multilabel {labels, probabilities}, regression {value}. A cascaded task (dependsOn) gives in label/probabilities the joint probability that its parent\'s event and its own happen (what its label column means), and adds conditional {given: parent task, label, probabilities}: the probability given the parent\'s event happened.',
  }),
});

/**
 * Serialises predict responses with JSON.stringify rather than a compiled serializer: predictions
 * are free-form records (fast-json-stringify walks them key by key), and measured here on a 32-row
 * response JSON.stringify took about 60% of the time. The response schema still documents the route.
 */
export const serializePredictResponse = (data: unknown): string => JSON.stringify(data);
