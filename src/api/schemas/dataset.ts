import { Type } from '@sinclair/typebox';

export const ColumnSchema = Type.Object({
  name: Type.String(),
  type: Type.Union(['numeric', 'categorical', 'boolean', 'multilabel', 'empty'].map((t) => Type.Literal(t)), {
    description: 'Inferred from the values: numbers; true/false; lists (JSON arrays, or a|b|c in CSV); anything else is categorical.',
  }),
  missing: Type.Integer({ description: 'Rows where the cell is empty, NA or null.' }),
  distinct: Type.Integer(),
  distinctCapped: Type.Boolean({ description: 'True when there are more distinct values than were counted.' }),
  sample: Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
});

export const DatasetSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
  rows: Type.Integer(),
  bytes: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  columns: Type.Array(ColumnSchema),
});

export const DatasetListSchema = Type.Object({ datasets: Type.Array(DatasetSchema) });

export const UploadQuerySchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'A name for the dataset (default: "dataset").', examples: ['pets'] })),
});
