/**
 * Checks the training memory estimate (src/mtl/memory-estimate.ts, what POST /v1/jobs compares to
 * WORKER_MEMORY_MB) against the real peak: trains a spec with wide shared layers on the six rows of
 * the pets dataset through the worker's path (rows streamed from a DatasetStore, a checkpoint saved
 * every epoch, the model exported and saved) and prints the estimate beside the process's peak RSS.
 * Wide layers put nearly all the memory in the parameters, which is what the estimate has to count.
 *
 *   npm run bench:memory-estimate -- [--layers 4096x8] [--tasks 2] [--epochs 2] [--no-affinity]
 *
 * The backend is TF_BACKEND's (training order; default auto). 8 × 4096 takes minutes and ~7 GiB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createStores } from '../src/composition-root.js';
import { selectBackend, type BackendPreference } from '../src/mtl/backend.js';
import { estimateTrainingMemory } from '../src/mtl/memory-estimate.js';
import { disposeModel, trainOnRows } from '../src/mtl/pipeline.js';
import { exportArtifacts } from '../src/mtl/serialization.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import { newId } from '../src/shared/ids.js';
import { modelMetadataOf } from '../src/store/model-metadata.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const [units, count] = opt('layers', '4096x8').split('x').map(Number);
const taskCount = Number(opt('tasks', '2'));
const epochs = Number(opt('epochs', '2'));
const affinity = !argv.includes('--no-affinity');
const GiB = 2 ** 30;
const peakGiB = () => (process.resourceUsage().maxRSS * 1024) / GiB;

const dir = mkdtempSync(join(tmpdir(), 'mtl-memory-estimate-'));
try {
  const stores = createStores({ DATA_DIR: dir });
  const backend = await selectBackend((process.env.TF_BACKEND ?? 'auto') as BackendPreference);
  const csv = 'x,y,colour,animal,tags,weight\n1.5,0.3,red,cat,small|pet,4.1\n2.1,1.7,blue,dog,pet,12.5\n0.4,2.2,red,cat,small,3.8\n3.3,0.9,green,dog,pet|loud,20.3\n2.8,1.1,blue,dog,loud,15\n0.9,2.9,green,cat,small|pet,4.6\n';
  const info = await stores.datasets.create('pets', 'csv', Readable.from([Buffer.from(csv)]), 1e6);
  const tasks = [{ name: 'animal', type: 'classification' as const }, { name: 'weight', type: 'regression' as const }, { name: 'tags', type: 'multilabel' as const }].slice(0, taskCount);
  const spec = resolveSpec({ datasetId: info.id, tasks, architecture: { sharedLayers: Array.from({ length: count }, () => units) }, training: { epochs, affinity } }, info);
  const estimate = estimateTrainingMemory(spec, info.columns, info.rows);
  const before = peakGiB();
  const jobId = newId();
  const { source } = await stores.datasets.rowSource(info.id);
  const trained = await trainOnRows(spec, source, { onCheckpoint: (trainer) => stores.checkpoints.save(jobId, { jobId, trainer }) });
  await stores.models.save(modelMetadataOf({ id: newId(), jobId, spec, trained, backend: backend.name }), await exportArtifacts(trained.model.serving));
  disposeModel(trained.model);
  console.log(
    JSON.stringify({
      backend: backend.name,
      layers: `${count} × ${units}`,
      tasks: taskCount,
      affinity,
      parameters: estimate.parameters,
      estimateGiB: +(estimate.bytes / GiB).toFixed(2),
      peakRssGiB: +peakGiB().toFixed(2),
      runtimeGiB: +before.toFixed(2),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
