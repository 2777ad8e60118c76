import { Type } from '@sinclair/typebox';
import { Nullable } from './problem.js';

const TaskEpochSchema = Type.Object({
  loss: Nullable(Type.Number()),
  metric: Nullable(Type.Number()),
  valLoss: Nullable(Type.Number()),
  valMetric: Nullable(Type.Number()),
  metricName: Type.String({ description: 'accuracy (classification), auc (binary), microF1 (multilabel), rmse (regression).' }),
});

export const EpochReportSchema = Type.Object({
  epoch: Type.Integer(),
  epochs: Type.Integer(),
  loss: Type.Number({ description: 'Weighted training loss Σ weight·task loss.' }),
  valLoss: Nullable(Type.Number()),
  tasks: Type.Record(Type.String(), TaskEpochSchema),
  weights: Type.Record(Type.String(), Type.Number(), { description: 'Loss weight of each task in this epoch.' }),
  monitored: Type.Number({ description: 'Value model selection watches (lower is better).' }),
  samplesPerSec: Type.Number(),
  durationMs: Type.Number(),
});

export const JobSchema = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'Name of the model it trains.' }),
  datasetId: Type.String(),
  state: Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s))),
  progress: Type.Object({ epoch: Type.Integer(), epochs: Type.Integer(), percent: Type.Number() }),
  history: Type.Array(EpochReportSchema),
  modelId: Nullable(Type.String()),
  error: Nullable(Type.String()),
  attempts: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  study: Type.Optional(Nullable(Type.Object({ studyId: Type.String(), trialId: Type.String() }, { description: 'The study and trial this job trains (GET /v1/studies/:id).' }))),
});

export const JobAcceptedSchema = Type.Object({ id: Type.String(), state: Type.Literal('queued'), modelId: Type.String({ description: 'Id the model will have once the job succeeds.' }) });
export const JobListSchema = Type.Object({ jobs: Type.Array(JobSchema) });
