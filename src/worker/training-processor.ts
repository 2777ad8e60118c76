/**
 * BullMQ sandboxed processor: runs in a child process of the worker, so a training job can use
 * the CPU flat out (or crash) without stalling the worker's lock renewals.
 */
import { DelayedError, UnrecoverableError, type SandboxedJob } from 'bullmq';
import { composeRoot } from '../composition-root.js';
import { selectBackend } from '../mtl/backend.js';
import { describeAdapter } from '../mtl/webgpu-backend.js';
import { disposeModel, trainOnRows, type TrainedModel } from '../mtl/pipeline.js';
import { exportArtifacts } from '../mtl/serialization.js';
import { SpecError } from '../mtl/spec-error.js';
import { TrainingStopped, type EpochReport, type TrainerCheckpoint } from '../mtl/trainer.js';
import { NotFoundError } from '../shared/not-found-error.js';
import { modelMetadataOf, type ModelMetadata } from '../store/model-metadata.js';
import { CANCELLED_REASON, LOCK_LOST_REASON, SHUTDOWN_REASON, type TrainingJobData, type TrainingJobProgress, type TrainingJobResult } from '../queue/job-types.js';

// When the worker process dies (kill -9, out of memory) the IPC channel closes: stop too, so the
// job's next worker is the only one training it.
process.on('disconnect', () => process.exit(1));

const { config, logger, stores } = composeRoot('trainer');
const { datasets, models, checkpoints } = stores;
const backend = selectBackend(config.TF_BACKEND, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON }).then((b) => {
  logger.info({ backend: b.name, package: b.detail, ...(b.adapter ? { adapter: b.adapter } : {}) }, `TensorFlow.js backend: ${b.name}`);
  return b;
});

interface SavedCheckpoint {
  jobId: string;
  trainer: TrainerCheckpoint;
}

export default async function trainingProcessor(job: SandboxedJob<TrainingJobData, TrainingJobResult>, token?: string, signal?: AbortSignal): Promise<TrainingJobResult> {
  const { spec, modelId } = job.data;
  const jobId = String(job.id);
  const pinoLog = logger.child({ jobId, modelId });
  /** Logs to the worker's output and to the job's log (GET /v1/jobs/:id/logs). */
  const log = (message: string, details: Record<string, unknown> = {}) => {
    pinoLog.info(details, message);
    const extra = Object.keys(details).length > 0 ? ` ${JSON.stringify(details)}` : '';
    void Promise.resolve(job.log(`${new Date().toISOString()} ${message}${extra}`)).catch(() => undefined);
  };

  if (job.data.cancelRequestedAt) {
    log('cancelled before it started');
    throw new UnrecoverableError(CANCELLED_REASON);
  }
  // An earlier run of this job may have saved its model and then lost the job (Redis away, lock
  // expired) before it could record the success: the job is done, it is not trained again.
  const earlier = await savedModel();
  if (earlier) {
    await checkpoints.delete(jobId);
    log('model already saved by an earlier run of this job (its end was not recorded): done', { modelId });
    return resultOf(earlier);
  }
  const { name: backendName, detail, adapter } = await backend;
  const backendAdapter = adapter ? describeAdapter(adapter) : undefined;
  log('training job started', { backend: backendName, package: detail, attempt: job.attemptsMade + 1, tasks: spec.tasks.map((t) => `${t.name}:${t.type}`), architecture: spec.architecture.type, lossWeighting: spec.lossWeighting.strategy });

  // The rows stream from the store on each pass (fit, encode); only their float32 encoding stays.
  let rows;
  try {
    ({ source: rows } = await datasets.rowSource(spec.datasetId));
  } catch (err) {
    if (err instanceof NotFoundError) throw new UnrecoverableError(`dataset '${spec.datasetId}' no longer exists`);
    throw err;
  }
  log('dataset opened', { rows: rows.count, datasetId: spec.datasetId });

  const saved = await checkpoints.load<SavedCheckpoint>(jobId).catch((err) => {
    log('checkpoint unreadable: starting from epoch 0', { error: (err as Error).message });
    return null;
  });
  const resume = saved?.jobId === jobId ? saved.trainer : undefined;
  if (resume) log(`resuming from the checkpoint of epoch ${resume.epoch}`, { epoch: resume.epoch });

  // Stop on cancel (BullMQ aborts `signal`), on worker shutdown, on a lost job lock, or at training.maxMinutes.
  const stop = new AbortController();
  signal?.addEventListener('abort', () => stop.abort(signal.reason), { once: true });
  if (signal?.aborted) stop.abort(signal.reason);
  const limitMs = spec.training.maxMinutes !== undefined ? spec.training.maxMinutes * 60_000 : undefined;
  const timer = limitMs !== undefined ? setTimeout(() => stop.abort('timeout'), Math.max(0, limitMs - priorMs(resume))) : undefined;

  const history: EpochReport[] = resume ? [...resume.history] : [];
  let trained: TrainedModel;
  try {
    trained = await trainOnRows(spec, rows, {
      resume,
      signal: stop.signal,
      checkpointEvery: config.CHECKPOINT_EVERY,
      fused: config.MTL_FUSED,
      onLog: (message, details) => log(message, details as Record<string, unknown>),
      onCheckpoint: (trainer) => checkpoints.save(jobId, { jobId, trainer } satisfies SavedCheckpoint),
      onEpoch: async (report) => {
        history.push(report);
        log(`epoch ${report.epoch}/${report.epochs}`, { loss: round(report.loss), valLoss: report.valLoss === null ? null : round(report.valLoss), samplesPerSec: Math.round(report.samplesPerSec), weights: report.weights });
        const progress: TrainingJobProgress = { epoch: report.epoch, epochs: report.epochs, percent: Math.round((report.epoch / report.epochs) * 1000) / 10, history };
        await job.updateProgress(progress as unknown as object);
      },
    });
  } catch (err) {
    if (err instanceof TrainingStopped) return handleStop(err.reason);
    if (err instanceof NotFoundError) throw new UnrecoverableError(`dataset '${spec.datasetId}' no longer exists`);
    // Data the spec cannot be trained on will fail the same way on every retry.
    if (err instanceof SpecError) throw new UnrecoverableError((err as Error).message);
    throw err;
  } finally {
    clearTimeout(timer);
  }

  try {
    const { result } = trained;
    const metadata = modelMetadataOf({ id: modelId, jobId, spec, trained, backend: backendName, backendAdapter });
    try {
      await models.save(metadata, await exportArtifacts(trained.model.serving));
    } catch (err) {
      // Another run of this same job (one that lost its lock while Redis was away) saved it first.
      const other = await savedModel();
      if (!other) throw err;
      await checkpoints.delete(jobId);
      log('model already saved by another run of this job: done', { modelId });
      return resultOf(other);
    }
    await checkpoints.delete(jobId);
    log('model saved', { bestEpoch: result.bestEpoch, epochsRun: result.epochsRun, stoppedEarly: result.stoppedEarly, metrics: metadata.metrics, deltaM: trained.baselines?.deltaM ?? null });
    return { modelId, bestEpoch: result.bestEpoch, epochsRun: result.epochsRun, stoppedEarly: result.stoppedEarly, samplesPerSec: metadata.samplesPerSec, backend: backendName };
  } finally {
    disposeModel(trained.model);
  }

  /** This job's model, when a run of this job already saved it. */
  async function savedModel(): Promise<ModelMetadata | undefined> {
    const metadata = await models.get(modelId).catch((err) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    return metadata?.jobId === jobId ? metadata : undefined;
  }

  function resultOf(metadata: ModelMetadata): TrainingJobResult {
    const { bestEpoch, epochsRun, samplesPerSec, backend: savedBy } = metadata;
    return { modelId, bestEpoch, epochsRun, stoppedEarly: epochsRun < metadata.training.epochs, samplesPerSec, backend: savedBy };
  }

  async function handleStop(reason: unknown): Promise<never> {
    if (reason === SHUTDOWN_REASON) {
      // Hand the job back: it waits a moment, then any worker resumes it from the last checkpoint.
      log('worker shutting down: job handed back to the queue; it resumes from its last checkpoint');
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    if (reason === LOCK_LOST_REASON) {
      // Not this run's job any more: leave the checkpoint to the run that resumes it, record nothing.
      log('this run lost the job lock (Redis lost it, or it expired): stopped; the job resumes from its last checkpoint');
      throw new Error('the job lock was lost; the job resumes from its last checkpoint');
    }
    await checkpoints.delete(jobId);
    if (reason === 'timeout') {
      log(`stopped: over training.maxMinutes (${spec.training.maxMinutes})`);
      throw new UnrecoverableError(`training exceeded training.maxMinutes (${spec.training.maxMinutes} min)`);
    }
    log('cancelled');
    throw new UnrecoverableError(CANCELLED_REASON);
  }
}

/** Training time already spent before a resume (counts against maxMinutes). */
function priorMs(resume: TrainerCheckpoint | undefined): number {
  return resume?.trainingTimeMs ?? 0;
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
