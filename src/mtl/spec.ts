import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CascadeModeSchema, DEFAULT_CALIBRATION, TaskTypeSchema, type Cascade, type CascadeMode, type TaskType } from './spec-fields.js';
import { variantsWireSchema } from './spec-variants.js';
import { ARCHITECTURE_TYPES, ARCHITECTURES, type ResolvedArchitecture } from './architectures/index.js';
import { LOSS_WEIGHTING_STRATEGIES, LOSS_WEIGHTINGS, type ResolvedLossWeighting } from './loss-weighting/index.js';

export { TaskTypeSchema, type TaskType, type Activation, type Cascade, type CascadeMode } from './spec-fields.js';
export { ARCHITECTURE_TYPES, type ArchitectureType, type ResolvedArchitecture } from './architectures/index.js';
export { LOSS_WEIGHTING_STRATEGIES, type LossWeightingStrategy, type ResolvedLossWeighting } from './loss-weighting/index.js';

/** A name that is safe as a tfjs layer name, a JSON key and a URL segment. */
export const NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';

export const FeatureTypeSchema = Type.Union([Type.Literal('numeric'), Type.Literal('categorical')]);
export type FeatureType = Static<typeof FeatureTypeSchema>;

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
    dependsOn: Type.Optional(
      Type.String({
        pattern: NAME_PATTERN,
        description:
          'Binary tasks: the binary task whose event must happen first (a click before a conversion). This task\'s label then means "the parent\'s event and this one happened", on every row (not only where the parent is positive); its prediction gives that joint probability and the conditional one given the parent. At most one parent per task, no cycles.',
      }),
    ),
    mode: Type.Optional(CascadeModeSchema),
    calibration: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: 'mode "aitm": weight of the calibrator mean(max(p(task) − p(parent), 0)) added to the loss (default 0.6).' }),
    ),
  },
  { additionalProperties: false },
);
export type TaskSpec = Static<typeof TaskSpecSchema>;

/** The request's `architecture` object: any architecture's fields, optional; which apply to `type` is checked in resolveSpec. */
export const ArchitectureSpecSchema = variantsWireSchema<ResolvedArchitecture>('type', ARCHITECTURE_TYPES.map((t) => ARCHITECTURES[t].schema), {
  description: 'Parameter sharing scheme (default hard-sharing).',
  optionalKey: true,
});

/** The request's `lossWeighting` object: the strategy and its parameters (checked in resolveSpec). */
export const LossWeightingSpecSchema = variantsWireSchema<ResolvedLossWeighting, 'strategy'>('strategy', LOSS_WEIGHTING_STRATEGIES.map((s) => LOSS_WEIGHTINGS[s].schema), {
  description: LOSS_WEIGHTING_STRATEGIES.map((s) => `${s}: ${LOSS_WEIGHTINGS[s].schema.description}`).join(' '),
});

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
    weightDecay: Type.Optional(
      Type.Number({ minimum: 0, maximum: 10, description: 'Decoupled weight decay (AdamW): each step every Dense kernel shrinks by learningRate · weightDecay · w before the Adam update (default 0: off).' }),
    ),
    linearWarmStart: Type.Optional(
      Type.Boolean({
        description: 'Start the head of every task whose path from the input has no hidden layer (a linear model of the inputs, e.g. a branched leaf under layer-less nodes) from its task\'s linear reference solution (default false).',
      }),
    ),
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

export type Monitor = 'loss' | 'mean' | { task: string };

/** A task with its defaults; the cascade fields only on a task with `dependsOn` (and calibration only for aitm). */
export interface ResolvedTask {
  name: string;
  column: string;
  type: TaskType;
  weight: number;
  positiveLabel?: string | number | boolean;
  dependsOn?: string;
  mode?: CascadeMode;
  calibration?: number;
}

/** The cascade of a resolved task, or undefined when it depends on none. */
export function cascadeOf(task: ResolvedTask): Cascade | undefined {
  if (task.dependsOn === undefined) return undefined;
  return task.mode === 'aitm' ? { dependsOn: task.dependsOn, mode: 'aitm', calibration: task.calibration ?? DEFAULT_CALIBRATION } : { dependsOn: task.dependsOn, mode: 'esmm' };
}

/** A spec with every default filled in: what the worker trains and what the model records. */
export interface ResolvedSpec {
  name: string;
  datasetId: string;
  features: { name: string; type: FeatureType }[];
  tasks: ResolvedTask[];
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
    /** Decoupled (AdamW) weight decay of the Dense kernels; 0 off. */
    weightDecay: number;
    /** Linear heads (no hidden layer between them and the input) start from their task's linear reference. */
    linearWarmStart: boolean;
  };
}

/** The architecture a spec without one gets: hard sharing with its defaults. */
export const DEFAULT_ARCHITECTURE = Value.Default(ARCHITECTURES['hard-sharing'].schema, { type: 'hard-sharing' }) as ResolvedArchitecture;

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
  weightDecay: 0,
  linearWarmStart: false,
};
