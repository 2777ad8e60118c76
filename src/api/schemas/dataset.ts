import { Type } from '@sinclair/typebox';
import { NextCursorSchema } from '../pagination.js';

export const ColumnSchema = Type.Object({
  name: Type.String(),
  type: Type.Union(['numeric', 'categorical', 'boolean', 'multilabel', 'empty'].map((t) => Type.Literal(t)), {
    description: 'Inferred from the values: numbers; true/false; lists (JSON arrays, or a|b|c in CSV); anything else is categorical.',
  }),
  missing: Type.Integer({ description: 'Rows where the cell is empty, NA or null.' }),
  distinct: Type.Integer(),
  distinctCapped: Type.Boolean({ description: 'True when there are more distinct values than were counted.' }),
  sample: Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
    description: 'Up to 20 distinct values, for a quick look; a text longer than 48 characters is cut there and ends in "…".',
  }),
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

export const DatasetSummarySchema = Type.Object({
  ...Type.Omit(DatasetSchema, ['columns']).properties,
  columnCount: Type.Integer(),
  columnTypes: Type.Record(Type.String(), Type.Integer(), { description: 'How many columns of each type, e.g. {"numeric": 64, "categorical": 2}.' }),
});

export const DatasetListSchema = Type.Object({
  datasets: Type.Array(DatasetSummarySchema, { description: 'Summaries, newest first: GET /v1/datasets/{id} has the columns.' }),
  nextCursor: NextCursorSchema,
});

export const UploadQuerySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'A name for the dataset (default: "dataset").', examples: ['pets'] })),
  },
  { additionalProperties: false },
);
