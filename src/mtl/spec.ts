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

export const ARCHITECTURE_TYPES = ['hard-sharing', 'soft-sharing', 'mmoe', 'ple'] as const;
export type ArchitectureType = (typeof ARCHITECTURE_TYPES)[number];

/** One object for every architecture; which fields apply depends on `type` (checked in resolveSpec). */
export const ArchitectureSpecSchema = Type.Object(
  {
    type: Type.Optional(Type.Union(ARCHITECTURE_TYPES.map((t) => Type.Literal(t)), { description: 'Parameter sharing scheme (default hard-sharing).' })),
    sharedLayers: Type.Optional(LayerSizes('hard-sharing: units of each shared (trunk) Dense layer. soft-sharing: units of each layer of every task tower.')),
    headLayers: Type.Optional(LayerSizes('hard-sharing and soft-sharing: units of each hidden Dense layer in every task head.')),
    activation: Type.Optional(Type.Union([Type.Literal('relu'), Type.Literal('tanh'), Type.Literal('elu')])),
    crossStitch: Type.Optional(Type.Boolean({ description: 'soft-sharing: mix the towers after each layer with learned cross-stitch units (default true).' })),
    tie: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'soft-sharing: strength of the L2 penalty pulling the task towers\' weights together (default 0).' })),
    experts: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'mmoe: number of shared experts (default 4). ple: shared experts per level.' })),
    taskExperts: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'ple: task-specific experts per task and level (default 1).' })),
    levels: Type.Optional(Type.Integer({ minimum: 1, maximum: 4, description: 'ple: extraction levels (default 1, i.e. CGC).' })),
    expertLayers: Type.Optional(LayerSizes('mmoe and ple: units of each Dense layer of an expert (default [64]).')),
    towerLayers: Type.Optional(LayerSizes('mmoe and ple: units of each Dense layer of a task tower (default [32]).')),
  },
  { additionalProperties: false },
);

export const LOSS_WEIGHTING_STRATEGIES = ['static', 'uncertainty', 'dwa', 'gradnorm', 'pcgrad'] as const;
export type LossWeightingStrategy = (typeof LOSS_WEIGHTING_STRATEGIES)[number];

export const LossWeightingSpecSchema = Type.Object(
  {
    strategy: Type.Union(LOSS_WEIGHTING_STRATEGIES.map((s) => Type.Literal(s)), {
      description: 'static: the tasks\' weights. uncertainty: learned per-task log-variance (Kendall 2018). dwa: Dynamic Weight Average (Liu 2019). gradnorm: learned weights balancing gradient norms (Chen 2018). pcgrad: projecting conflicting gradients (Yu 2020).',
    }),
    temperature: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'dwa: softmax temperature (default 2).' })),
    alpha: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'gradnorm: restoring force α (default 1.5).' })),
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
    monitor: Type.Optional(
      Type.Union([Type.Literal('loss'), Type.Literal('mean'), Type.Object({ task: Type.String() }, { additionalProperties: false })], {
        description: 'What early stopping and model selection watch on the validation split: "loss" (weighted total, default), "mean" (mean task score), or {"task": name} (that task\'s metric).',
      }),
    ),
    maxMinutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 24 * 60, description: 'Wall-clock limit of the job; a job over it fails with that reason.' })),
    baselines: Type.Optional(Type.Boolean({ description: 'Also train one single-task model per task with the same trunk and budget, and report the MTL gain Δm.' })),
    affinity: Type.Optional(Type.Boolean({ description: 'Measure task affinity (cosine of per-task gradients on shared weights) at sampled steps (default true with 2+ tasks).' })),
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
    lossWeighting: Type.Optional(LossWeightingSpecSchema),
    training: Type.Optional(TrainingOptionsSchema),
  },
  { additionalProperties: false, $id: 'TrainingSpec' },
);
export type TrainingSpec = Static<typeof TrainingSpecSchema>;

export type ResolvedArchitecture =
  | { type: 'hard-sharing'; sharedLayers: number[]; headLayers: number[]; activation: Activation }
  | { type: 'soft-sharing'; sharedLayers: number[]; headLayers: number[]; activation: Activation; crossStitch: boolean; tie: number }
  | { type: 'mmoe'; experts: number; expertLayers: number[]; towerLayers: number[]; activation: Activation }
  | { type: 'ple'; experts: number; taskExperts: number; levels: number; expertLayers: number[]; towerLayers: number[]; activation: Activation };
export type Activation = 'relu' | 'tanh' | 'elu';

export type ResolvedLossWeighting =
  | { strategy: 'static' }
  | { strategy: 'uncertainty' }
  | { strategy: 'dwa'; temperature: number }
  | { strategy: 'gradnorm'; alpha: number }
  | { strategy: 'pcgrad' };

export type Monitor = 'loss' | 'mean' | { task: string };

/** A spec with every default filled in: what the worker trains and what the model records. */
export interface ResolvedSpec {
  name: string;
  datasetId: string;
  features: { name: string; type: FeatureType }[];
  tasks: { name: string; column: string; type: TaskType; weight: number; positiveLabel?: string | number | boolean }[];
  architecture: ResolvedArchitecture;
  lossWeighting: ResolvedLossWeighting;
  training: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    validationSplit: number;
    seed: number;
    earlyStopping: { patience: number; minDelta: number } | false;
    monitor: Monitor;
    maxMinutes?: number;
    baselines: boolean;
    affinity: boolean;
  };
}

export const ARCHITECTURE_DEFAULTS = {
  'hard-sharing': { type: 'hard-sharing', sharedLayers: [128, 64], headLayers: [], activation: 'relu' },
  'soft-sharing': { type: 'soft-sharing', sharedLayers: [64, 32], headLayers: [], activation: 'relu', crossStitch: true, tie: 0 },
  mmoe: { type: 'mmoe', experts: 4, expertLayers: [64], towerLayers: [32], activation: 'relu' },
  ple: { type: 'ple', experts: 2, taskExperts: 1, levels: 1, expertLayers: [64], towerLayers: [32], activation: 'relu' },
} as const satisfies Record<ArchitectureType, ResolvedArchitecture>;

export const DEFAULT_ARCHITECTURE: ResolvedArchitecture = { ...ARCHITECTURE_DEFAULTS['hard-sharing'], sharedLayers: [128, 64], headLayers: [] };

export const DEFAULT_TRAINING: ResolvedSpec['training'] = {
  epochs: 20,
  batchSize: 64,
  learningRate: 0.001,
  validationSplit: 0.2,
  seed: 42,
  earlyStopping: { patience: 5, minDelta: 0 },
  monitor: 'loss',
  baselines: false,
  affinity: true,
};
