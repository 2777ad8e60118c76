import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { forwardPass } from '../mtl/predictor.js';
import { headWidths, PreprocessingSchema, preprocessingProblems } from '../mtl/preprocessing-schema.js';
import { importArtifacts } from '../mtl/serialization.js';
import { checkTopology, TopologyError } from '../mtl/topology-check.js';
import { newId } from '../shared/ids.js';
import { ModelArchiveError, unpackModelArchive } from '../store/model-archive.js';
import type { ModelMetadata } from '../store/model-metadata.js';
import type { ModelStore } from '../store/model-store.js';
import { ModelSchema } from './schemas/model.js';

/** What metadata.json of an imported model must hold: what GET /v1/models/{ref} shows and predict relies on. */
const ImportedMetadataSchema = Type.Composite([
  Type.Omit(ModelSchema, ['id', 'name', 'version', 'createdAt', 'aliases', 'importedFrom', 'preprocessing']),
  Type.Object({
    id: Type.String(),
    name: Type.String({ minLength: 1, maxLength: 256 }),
    version: Type.Optional(Type.Integer({ minimum: 1 })),
    createdAt: Type.String(),
    preprocessing: PreprocessingSchema,
  }),
]);

/**
 * Imports a model archive (see unpackModelArchive) as a new model: a new id and the next version
 * of its name. Before anything is stored it checks metadata.json against what serving needs, the
 * topology against the weights (checkTopology: no layer may allocate what the manifest does not
 * hold), that inputs and outputs match the preprocessing and tasks, and that the model loads and
 * runs one forward pass. Any failure is a ModelArchiveError (400) or PayloadTooLargeError (413), and
 * nothing is stored.
 */
export async function importModelArchive(models: ModelStore, archive: Buffer, maxBytes: number): Promise<ModelMetadata> {
  const { metadata: raw, artifacts } = await unpackModelArchive(archive, maxBytes);
  const metadata = checkMetadata(raw);
  const prep = metadata.preprocessing as ModelMetadata['preprocessing'];
  let summary;
  try {
    summary = checkTopology(artifacts.modelTopology, artifacts.weightSpecs);
  } catch (err) {
    if (err instanceof TopologyError) throw new ModelArchiveError(`model.json: ${err.message}`);
    throw err;
  }
  if (summary.inputWidth !== prep.inputSize) throw new ModelArchiveError(`the model takes ${summary.inputWidth} inputs but its preprocessing encodes ${prep.inputSize}`);
  const taskNames = prep.tasks.map((t) => t.task);
  const widths = headWidths(prep);
  const outputs = summary.outputs;
  if (outputs.length !== taskNames.length || outputs.some((o, i) => o.name !== taskNames[i] || o.width !== widths[i]))
    throw new ModelArchiveError(
      `the model's outputs (${outputs.map((o) => `${o.name}[${o.width}]`).join(', ')}) do not match its tasks (${taskNames.map((t, i) => `${t}[${widths[i]}]`).join(', ')})`,
    );
  if (metadata.tasks.length !== taskNames.length || metadata.tasks.some((t, i) => t.name !== taskNames[i]))
    throw new ModelArchiveError('metadata.json: tasks and preprocessing.tasks name different tasks');

  // The cache will load it the same way: it must build, take the weights and run.
  let serving: Awaited<ReturnType<typeof importArtifacts>> | undefined;
  try {
    serving = await importArtifacts(artifacts);
    forwardPass(serving, prep.inputSize, new Float32Array(prep.inputSize), 1);
  } catch (err) {
    throw new ModelArchiveError(`model.json and weights.bin do not load as a model: ${(err as Error).message}`);
  } finally {
    serving?.dispose();
  }

  const { id: originalId, version: originalVersion, ...rest } = metadata as Static<typeof ImportedMetadataSchema> & { aliases?: unknown; importedFrom?: unknown };
  delete rest.aliases;
  delete rest.importedFrom;
  const now = new Date().toISOString();
  return models.save(
    { ...(rest as unknown as ModelMetadata), id: newId(), createdAt: now, importedFrom: { id: originalId, name: metadata.name, ...(originalVersion ? { version: originalVersion } : {}), importedAt: now } },
    artifacts,
  );
}

function checkMetadata(raw: unknown): Static<typeof ImportedMetadataSchema> {
  if (Value.Check(ImportedMetadataSchema, raw)) {
    const problems = preprocessingProblems(raw.preprocessing);
    if (problems.length > 0) throw new ModelArchiveError(`metadata.json: preprocessing: ${problems.join('; ')}`);
    return raw;
  }
  const errors = [...Value.Errors(ImportedMetadataSchema, raw)].slice(0, 5);
  throw new ModelArchiveError(`metadata.json is not the metadata of a model: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
}
