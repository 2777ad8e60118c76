/**
 * BullMQ sandboxed processor: runs in a child process of the worker, so a training job can use
 * the CPU flat out (or crash) without stalling the worker's lock renewals.
 */
import { join } from 'node:path';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { loggerOptions } from '../logger.js';
import { selectBackend } from '../mtl/backend.js';
import { disposeModel, trainOnRows } from '../mtl/pipeline.js';
import { exportArtifacts } from '../mtl/serialization.js';
import { SpecError } from '../mtl/spec-error.js';
import { DatasetStore } from '../store/dataset-store.js';
import { ModelStore } from '../store/model-store.js';
import { NotFoundError } from '../store/store-errors.js';
import { modelMetadataOf } from '../store/model-metadata.js';
import type { TrainingJobData, TrainingJobProgress, TrainingJobResult } from '../queue/job-types.js';
import type { EpochReport } from '../mtl/trainer.js';

const config = loadConfig();
const logger = pino(loggerOptions(config.LOG_LEVEL, 'trainer'));
const backend = selectBackend(config.TF_BACKEND).then((b) => {
  logger.info({ backend: b.name, package: b.detail }, `TensorFlow.js backend: ${b.name}`);
  return b;
});
const datasets = new DatasetStore(join(config.DATA_DIR, 'datasets'));
const models = new ModelStore(join(config.DATA_DIR, 'models'));

export default async function trainingProcessor(job: SandboxedJob<TrainingJobData, TrainingJobResult>): Promise<TrainingJobResult> {
  const { spec, modelId } = job.data;
  const log = logger.child({ jobId: job.id, modelId });
  const { name: backendName } = await backend;
  log.info({ datasetId: spec.datasetId, tasks: spec.tasks.map((t) => `${t.name}:${t.type}`), backend: backendName, attempt: job.attemptsMade + 1 }, 'training job started');

  let rows;
  try {
    ({ rows } = await datasets.readRows(spec.datasetId));
  } catch (err) {
    if (err instanceof NotFoundError) throw new UnrecoverableError(`dataset '${spec.datasetId}' no longer exists`);
    throw err;
  }
  log.info({ rows: rows.length }, 'dataset loaded');

  const history: EpochReport[] = [];
  let trained;
  try {
    trained = await trainOnRows(spec, rows, {
      onLog: (message, details) => log.info(details ?? {}, message),
      onEpoch: async (report) => {
        history.push(report);
        log.info({ epoch: report.epoch, loss: report.loss, valLoss: report.valLoss, samplesPerSec: Math.round(report.samplesPerSec) }, 'epoch done');
        const progress: TrainingJobProgress = {
          epoch: report.epoch,
          epochs: report.epochs,
          percent: Math.round((report.epoch / report.epochs) * 1000) / 10,
          history,
        };
        await job.updateProgress(progress as unknown as object);
      },
    });
  } catch (err) {
    // Data the spec cannot be trained on will fail the same way on every retry.
    if (err instanceof SpecError) throw new UnrecoverableError((err as Error).message);
    throw err;
  }

  try {
    const { result } = trained;
    const metadata = modelMetadataOf({ id: modelId, jobId: String(job.id), spec, trained, backend: backendName });
    await models.save(metadata, await exportArtifacts(trained.model.serving));
    log.info({ bestEpoch: result.bestEpoch, epochsRun: result.epochsRun, metrics: metadata.metrics, affinity: result.affinity?.matrix, deltaM: trained.baselines?.deltaM }, 'model saved');
    return { modelId, bestEpoch: result.bestEpoch, epochsRun: result.epochsRun, stoppedEarly: result.stoppedEarly, samplesPerSec: metadata.samplesPerSec, backend: backendName };
  } finally {
    disposeModel(trained.model);
  }
}
