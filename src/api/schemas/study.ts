import { Type } from '@sinclair/typebox';
import { Nullable } from './problem.js';

const StateSchema = Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
const TrialStateSchema = Type.Union(['planned', 'queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
const MetricValueSchema = Type.Object({ metric: Type.String({ description: 'accuracy, auc, microF1 or rmse' }), value: Nullable(Type.Number()) });
const Groups = Type.Array(Type.Array(Type.String()));

export const StudyTrialSchema = Type.Object({
  id: Type.String({ description: 't01, t02, … in the order the seeded sampler drew them' }),
  summary: Type.String(),
  jobId: Nullable(Type.String({ description: 'The training job of its latest run (GET /v1/jobs/:id).' })),
  modelId: Nullable(Type.String({ description: "The model of its latest succeeded run (named '<study>-trials')." })),
  state: TrialStateSchema,
  architecture: Type.Record(Type.String(), Type.Unknown()),
  lossWeighting: Type.Object({ strategy: Type.String() }),
  training: Type.Object({ learningRate: Type.Number(), batchSize: Type.Integer(), weightDecay: Type.Optional(Type.Number()) }),
  grouping: Groups,
  runs: Type.Array(Type.Object({ rung: Type.Integer(), epochs: Type.Integer(), jobId: Type.String(), modelId: Type.String(), state: TrialStateSchema })),
  validation: Type.Record(Type.String(), MetricValueSchema, { description: 'Per-task validation metric of its latest finished run.' }),
  gains: Type.Record(Type.String(), Nullable(Type.Number()), { description: 'Per task: ±(value − reference) / |reference|, positive when better than the reference.' }),
  score: Nullable(Type.Number({ description: 'Mean of the gains (a task without a value counts −1).' })),
  stoppedEarly: Type.Boolean({ description: 'Successive halving stopped it before the last rung.' }),
  parameters: Type.Integer(),
  epochs: Type.Integer(),
});

export const StudySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  datasetId: Type.String(),
  state: StateSchema,
  error: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  tasks: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  budget: Type.Object({ trials: Type.Integer(), maxMinutes: Type.Number() }),
  search: Type.Record(Type.String(), Type.Unknown(), { description: 'The search space, defaults filled in.' }),
  rungs: Type.Array(Type.Integer(), { description: 'Epochs of each rung of successive halving.' }),
  eta: Type.Integer(),
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
  referenceJob: Nullable(Type.Object({ jobId: Type.String(), modelId: Type.String(), state: TrialStateSchema })),
  references: Type.Record(Type.String(), Type.Object({ linear: Nullable(MetricValueSchema), single: Nullable(MetricValueSchema) })),
  affinity: Nullable(Type.Object({ tasks: Type.Array(Type.String()), matrix: Type.Array(Type.Array(Type.Number())), groups: Groups })),
  groupings: Type.Array(Groups, { description: 'Groupings of the tasks the search tried.' }),
  trials: Type.Array(StudyTrialSchema),
  best: Nullable(
    Type.Object({
      trialId: Type.String(),
      modelId: Type.String({ description: 'The best trial saved as a model named after the study.' }),
      trialModelId: Type.String(),
      version: Nullable(Type.Integer()),
      score: Type.Number(),
      tasks: Type.Record(
        Type.String(),
        Type.Object({ metric: Type.String(), value: Nullable(Type.Number()), reference: Nullable(Type.Number()), referenceKind: Nullable(Type.String()), gain: Nullable(Type.Number()) }),
      ),
      deltaM: Nullable(Type.Number({ description: 'Mean per-task gain over the references.' })),
    }),
  ),
  pareto: Type.Array(Type.String(), { description: 'Trials no other trial beats on every task.' }),
  grouping: Nullable(Groups),
});

export const StudyAcceptedSchema = Type.Object({ id: Type.String(), state: Type.Literal('queued') });
export const StudyListSchema = Type.Object({
  studies: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), datasetId: Type.String(), state: StateSchema, progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }), createdAt: Type.String(), bestTrialId: Nullable(Type.String()), modelId: Nullable(Type.String()) })),
});
