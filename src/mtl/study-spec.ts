/** A study request: its wire schema and its resolution against the dataset. Pure. */
import { Type, type Static, type TNumber, type TInteger } from '@sinclair/typebox';
import { FeatureSpecSchema, TaskSpecSchema, type ResolvedSpec } from './spec.js';
import { resolveSpec, type DatasetSummary } from './spec-resolution.js';
import { SpecError, type FieldError } from './spec-error.js';
import { resolveSearch, rungEpochs, type StudySearch } from './study-search.js';

const Values = <T extends TNumber | TInteger>(item: T, description: string) => Type.Optional(Type.Array(item, { minItems: 1, maxItems: 32, description }));

export const StudySearchSchema = Type.Object(
  {
    architectures: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 16, description: 'Architectures to try (default: branched, hard-sharing and mmoe, those this engine has).' })),
    lossWeighting: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 16, description: 'Loss weighting strategies to try (default static, uncertainty, dwa).' })),
    learningRate: Values(Type.Number({ exclusiveMinimum: 0, maximum: 10 }), 'Learning rates to try (default 0.001, 0.003, 0.01).'),
    batchSize: Values(Type.Integer({ minimum: 1, maximum: 65536 }), 'Batch sizes to try (default 32, 64, 128).'),
    widths: Values(Type.Integer({ minimum: 1, maximum: 4096 }), 'Units of the first hidden layer (deeper layers halve it; default 32, 64, 128).'),
    depths: Values(Type.Integer({ minimum: 1, maximum: 8 }), 'Hidden layers (default 1, 2).'),
    weightDecay: Values(Type.Number({ minimum: 0, maximum: 1 }), 'Decoupled weight decay values (default 0, 1e-4, 1e-3 where the engine has training.weightDecay).'),
    dropout: Values(Type.Number({ minimum: 0, maximum: 0.9 }), 'Dropout rates (default 0, 0.1, 0.2 where the engine has architecture.dropout).'),
    epochs: Type.Optional(
      Type.Object(
        { min: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), max: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })) },
        { additionalProperties: false, description: 'Successive halving: epochs of the first rung (default 3) and of the last (default 27); each rung has eta times the epochs of the one before.' },
      ),
    ),
    eta: Type.Optional(Type.Integer({ minimum: 2, maximum: 10, description: 'Successive halving keeps the best 1/eta of a rung (default 3).' })),
  },
  { additionalProperties: false },
);

export const StudyRequestSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]{0,55}$', description: 'The best model is saved under this name (the trials\' models under `<name>-trials`).' }),
    datasetId: Type.String({ minLength: 1, maxLength: 64 }),
    tasks: Type.Array(TaskSpecSchema, { minItems: 1, maxItems: 64 }),
    features: Type.Optional(Type.Array(FeatureSpecSchema, { minItems: 1, maxItems: 10000, description: 'Omit to use every column no task uses.' })),
    budget: Type.Optional(
      Type.Object(
        {
          trials: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'Configurations tried (default 12); the reference job is not counted.' })),
          maxMinutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 24 * 60, description: 'Wall-clock limit (default 10): then running trials are cancelled and the best finished one wins.' })),
        },
        { additionalProperties: false },
      ),
    ),
    search: Type.Optional(StudySearchSchema),
    training: Type.Optional(
      Type.Object(
        {
          validationSplit: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 0.9, description: 'Share of rows every trial validates on (default 0.2); selection uses this split only.' })),
          seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'Seeds the split, the sampler and every trial (default 42).' })),
          patience: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Early stopping patience within a trial (default 5).' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'StudyRequest' },
);
export type StudyRequest = Static<typeof StudyRequestSchema>;

export interface ResolvedStudy {
  name: string;
  base: ResolvedSpec;
  budget: { trials: number; maxMinutes: number };
  search: StudySearch;
  rungs: number[];
}

/** Checks the request against the dataset (tasks, features) and the registries (search); SpecError naming every bad field. */
export function resolveStudy(request: StudyRequest, dataset: DatasetSummary): ResolvedStudy {
  const errors: FieldError[] = [];
  let base: ResolvedSpec | undefined;
  try {
    base = resolveSpec(
      {
        name: `${request.name}-trials`,
        datasetId: request.datasetId,
        tasks: request.tasks,
        ...(request.features ? { features: request.features } : {}),
        training: {
          validationSplit: request.training?.validationSplit ?? 0.2,
          seed: request.training?.seed ?? 42,
          earlyStopping: { patience: request.training?.patience ?? 5 },
          monitor: 'mean',
          affinity: false,
        },
      },
      dataset,
    );
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    errors.push(...err.errors);
  }
  const search = resolveSearch(request.search, errors);
  if (request.search?.eta !== undefined) search.eta = request.search.eta;
  const budget = { trials: request.budget?.trials ?? 12, maxMinutes: request.budget?.maxMinutes ?? 10 };
  if (errors.length > 0 || !base) throw new SpecError(errors);
  return { name: request.name, base, budget, search, rungs: rungEpochs(search.epochs, search.eta, budget.trials) };
}
