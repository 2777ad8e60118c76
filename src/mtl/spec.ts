import { Type, type Static } from '@sinclair/typebox';

/** A name that is safe as a tfjs layer name, a JSON key and a URL segment. */
export const NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';

export const FeatureTypeSchema = Type.Union([Type.Literal('numeric'), Type.Literal('categorical')]);
export type FeatureType = Static<typeof FeatureTypeSchema>;

export const TaskTypeSchema = Type.Union([
  Type.Literal('classification'),
  Type.Literal('binary'),
  Type.Literal('multilabel'),
  Type.Literal('regression'),
]);
export type TaskType = Static<typeof TaskTypeSchema>;

export const FeatureSpecSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, description: 'Column of the dataset used as input.' }),
    type: Type.Optional(FeatureTypeSchema),
  },
  { additionalProperties: false },
);
export type FeatureSpec = Static<typeof FeatureSpecSchema>;

export const TaskSpecSchema = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, description: 'Task (and head) name; letters, digits, _ and -.' }),
    column: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Column to predict; defaults to the task name.' })),
    type: TaskTypeSchema,
    weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, description: 'Static loss weight (default 1).' })),
    positiveLabel: Type.Optional(
      Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'Binary tasks: which label is the positive class.' }),
    ),
  },
  { additionalProperties: false },
);
export type TaskSpec = Static<typeof TaskSpecSchema>;

const LayerSizes = (description: string) =>
  Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), { maxItems: 8, description });

export const ArchitectureSpecSchema = Type.Object(
  {
    type: Type.Optional(Type.Literal('hard-sharing')),
    sharedLayers: Type.Optional(LayerSizes('Units of each shared (trunk) Dense layer.')),
    headLayers: Type.Optional(LayerSizes('Units of each hidden Dense layer in every task head.')),
    activation: Type.Optional(Type.Union([Type.Literal('relu'), Type.Literal('tanh'), Type.Literal('elu')])),
  },
  { additionalProperties: false },
);

export const EarlyStoppingSpecSchema = Type.Object(
  {
    patience: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    minDelta: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const TrainingOptionsSchema = Type.Object(
  {
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
    validationSplit: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
    earlyStopping: Type.Optional(Type.Union([EarlyStoppingSpecSchema, Type.Literal(false)])),
  },
  { additionalProperties: false },
);

export const TrainingSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'Model name; defaults to the dataset name.' })),
    datasetId: Type.String({ minLength: 1, maxLength: 64 }),
    features: Type.Optional(Type.Array(FeatureSpecSchema, { minItems: 1, maxItems: 10000, description: 'Omit to use every column no task uses.' })),
    tasks: Type.Array(TaskSpecSchema, { minItems: 1, maxItems: 512 }),
    architecture: Type.Optional(ArchitectureSpecSchema),
    training: Type.Optional(TrainingOptionsSchema),
  },
  { additionalProperties: false, $id: 'TrainingSpec' },
);
export type TrainingSpec = Static<typeof TrainingSpecSchema>;

/** A spec with every default filled in: what the worker trains and what the model records. */
export interface ResolvedSpec {
  name: string;
  datasetId: string;
  features: { name: string; type: FeatureType }[];
  tasks: { name: string; column: string; type: TaskType; weight: number; positiveLabel?: string | number | boolean }[];
  architecture: { type: 'hard-sharing'; sharedLayers: number[]; headLayers: number[]; activation: 'relu' | 'tanh' | 'elu' };
  training: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    validationSplit: number;
    seed: number;
    earlyStopping: { patience: number; minDelta: number } | false;
  };
}

export const DEFAULT_ARCHITECTURE: ResolvedSpec['architecture'] = {
  type: 'hard-sharing',
  sharedLayers: [128, 64],
  headLayers: [],
  activation: 'relu',
};

export const DEFAULT_TRAINING: ResolvedSpec['training'] = {
  epochs: 20,
  batchSize: 64,
  learningRate: 0.001,
  validationSplit: 0.2,
  seed: 42,
  earlyStopping: { patience: 5, minDelta: 0 },
};
