import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { charsetOf, unsupportedCharset, UTF8 } from '../plugins/json-body.js';
import { HttpProblem } from '../problem.js';
import { DatasetListSchema, DatasetSchema, UploadQuerySchema } from '../schemas/dataset.js';
import { IdParamsSchema, problems } from '../schemas/problem.js';
import { PageQuerySchema, paginate } from '../pagination.js';
import type { TabularFormat } from '../../store/tabular-parser.js';

const FORMATS: Record<string, TabularFormat> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

/** Small uploads for Swagger UI's "Try it out": two inputs and three kinds of task (animal, tags, weight). */
const PETS_CSV = 'x,y,colour,animal,tags,weight\n1.5,0.3,red,cat,small|pet,4.1\n2.1,1.7,blue,dog,pet,12.5\n0.4,2.2,red,cat,small,3.8\n3.3,0.9,green,dog,pet|loud,20.3\n2.8,1.1,blue,dog,loud,15\n0.9,2.9,green,cat,small|pet,4.6\n';
const PETS_NDJSON = PETS_CSV.trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [x, y, colour, animal, tags, weight] = l.split(',');
    return JSON.stringify({ x: Number(x), y: Number(y), colour, animal, tags: tags.split('|'), weight: Number(weight) });
  })
  .join('\n');

const datasetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Uploads are streamed to the store as they arrive, never buffered whole.
  app.addContentTypeParser(Object.keys(FORMATS), (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Upload a dataset (CSV with a header row, or NDJSON)',
        description:
          'The body is streamed to the store and parsed as it arrives; column types are inferred. Empty cells, NA and null are missing values. ' +
          'Multi-label cells are JSON arrays (NDJSON) or a|b|c (CSV).',
        querystring: UploadQuerySchema,
        // The body is a stream: these schemas document it and accept anything; the store validates it while parsing.
        body: {
          content: {
            'text/csv': { schema: { description: 'CSV, header row first, e.g. "x,colour,label\\n1.5,red,cat\\n"', examples: [PETS_CSV] } },
            'application/x-ndjson': { schema: { description: 'One JSON object per line, e.g. {"x": 1.5, "tags": ["a", "b"]}', examples: [PETS_NDJSON] } },
          },
        },
        response: { 201: DatasetSchema, ...problems(400, 413, 415) },
      },
    },
    async function uploadDataset(request, reply) {
      const mediaType = String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const format = FORMATS[mediaType];
      if (!format) {
        throw new HttpProblem(415, 'Unsupported Media Type', `send the dataset as text/csv or application/x-ndjson, not '${mediaType || 'nothing'}'`, [
          { pointer: '/headers/content-type', detail: 'must be text/csv or application/x-ndjson' },
        ]);
      }
      const charset = charsetOf(request.headers['content-type']);
      if (charset !== undefined && !UTF8.has(charset)) throw unsupportedCharset(charset);
      const name = request.query.name ?? 'dataset';
      const { config } = app.services;
      const info = await app.services.datasets.create(name, format, request.body as Readable, {
        maxBytes: config.DATASET_MAX_BYTES,
        maxRows: config.DATASET_MAX_ROWS,
        maxColumns: config.DATASET_MAX_COLUMNS,
        maxRecordChars: config.DATASET_MAX_RECORD_BYTES,
      });
      request.log.info({ datasetId: info.id, rows: info.rows, columns: info.columns.length }, 'dataset stored');
      return reply.code(201).header('location', `/v1/datasets/${info.id}`).send(info);
    },
  );

  app.get(
    '/v1/datasets',
    { schema: { tags: ['datasets'], summary: 'List datasets (summaries, newest first; in pages: limit, cursor)', querystring: PageQuerySchema, response: { 200: DatasetListSchema, ...problems(400) } } },
    async function listDatasets(request) {
      const { page, nextCursor } = paginate(await app.services.datasets.list(), (d) => [d.createdAt, d.id], request.query);
      return { datasets: page, nextCursor };
    },
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { tags: ['datasets'], summary: 'A dataset with its inferred columns', params: IdParamsSchema, response: { 200: DatasetSchema, ...problems(404) } } },
    async function getDataset(request) {
      return app.services.datasets.get(request.params.id);
    },
  );

  app.delete(
    '/v1/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Delete a dataset (refused while a queued or running job uses it)',
        params: IdParamsSchema,
        response: { 204: Type.Null(), ...problems(404, 409, 503) },
      },
    },
    async function deleteDataset(request, reply) {
      const { id } = request.params;
      const { datasets, trainingQueue } = app.services;
      await datasets.get(id);
      // Checked and deleted as one step: no job can be queued on it in between (by any API process).
      await trainingQueue.lockDataset(id, async () => {
        const jobs = await trainingQueue.activeJobsFor(id);
        if (jobs.length > 0) throw new HttpProblem(409, 'Conflict', `dataset is used by unfinished job(s) ${jobs.join(', ')}; wait for them or cancel them first`);
        await datasets.delete(id);
      });
      return reply.code(204).send(null);
    },
  );
};

export default datasetRoutes;
