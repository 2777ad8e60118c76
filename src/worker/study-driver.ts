/**
 * The study driver: runs a study as ordinary training jobs. First a reference job (hard sharing
 * with task affinity and the single-task, and where the engine has them linear, references), then
 * the trials, sampled from the search space with the study's seed, in rungs of successive halving:
 * every trial for `rungs[0]` epochs, the best 1/eta of them for `rungs[1]`, … Each run is a
 * training job on the shared queue, so every worker trains them. Everything the driver decides is
 * written to the study's record before it acts on it, so a driver that dies (its worker killed) is
 * restarted by BullMQ on another worker and carries on from the record, queueing nothing twice.
 */
import { newId } from '../shared/ids.js';
import { NotFoundError } from '../shared/not-found-error.js';
import { estimateTrainingMemory } from '../mtl/memory-estimate.js';
import { PRIMARY_METRIC, type MetricName } from '../mtl/metrics.js';
import { resolveSpec, type DatasetSummary } from '../mtl/spec-resolution.js';
import type { ResolvedSpec, TrainingSpec } from '../mtl/spec.js';
import { candidateGroupings, rungSizes, sampleTrials, type TrialPlan } from '../mtl/study-search.js';
import { gainOver, paretoFront, pickBest, scoreOf } from '../mtl/study-score.js';
import { suggestGroups } from '../mtl/task-affinity.js';
import type { TrainingQueue, JobView } from '../queue/training-queue.js';
import type { StudyRecord, StudyTrial, TrialRun, TrialState, MetricValue, StudyReference } from '../queue/study-types.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { ModelStore } from '../store/model-store.js';
import type { StudyStore } from '../store/study-store.js';
import type { ModelMetadata } from '../store/model-metadata.js';

export interface StudyDriverDeps {
  studies: StudyStore;
  datasets: DatasetStore;
  models: ModelStore;
  trainingQueue: TrainingQueue;
  pollMs: number;
  log: (message: string, details?: Record<string, unknown>) => void;
  /** Whether the user asked to cancel the study (read every poll). */
  cancelRequested: () => Promise<boolean>;
  /** Aborted when this driver must stop (worker shutdown): the study goes back to the queue. */
  signal?: AbortSignal;
}

/** Thrown when the driver stops because its signal was aborted (not a failure of the study). */
export class DriverStopped extends Error {}

const DONE = new Set<TrialState>(['succeeded', 'failed', 'cancelled']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Groupings the engine suggests for an affinity matrix: the threshold grouping and, where the engine has it, k groups for each k. */
export type GroupingSuggester = (affinity: { tasks: string[]; matrix: number[][] }) => string[][][];
export const suggestGroupings: GroupingSuggester = ({ tasks, matrix }) => [suggestGroups(tasks, matrix)];

export async function driveStudy(studyId: string, deps: StudyDriverDeps): Promise<StudyRecord> {
  const { studies, models, trainingQueue, log } = deps;
  let record = await studies.get(studyId);
  let written = JSON.stringify(record);
  const save = async () => {
    const text = JSON.stringify(record);
    if (text === written) return;
    await studies.save(record);
    written = text;
  };
  if (DONE.has(record.state as TrialState)) return record;
  const tasks = record.base.tasks.map((t) => t.name);
  const finish = async (state: StudyRecord['state'], error: string | null = null) => {
    record.state = state;
    record.error = error;
    record.finishedAt = new Date().toISOString();
    updateProgress(record);
    await save();
    log(`study ${state}`, { studyId, error, best: record.best?.trialId ?? null });
    return record;
  };
  if (await deps.cancelRequested()) return finish('cancelled');
  if (record.state === 'queued') {
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    await save();
  }
  const deadline = Date.parse(record.startedAt!) + record.budget.maxMinutes * 60_000;
  let dataset: DatasetSummary;
  try {
    dataset = await deps.datasets.get(record.datasetId);
  } catch (err) {
    if (err instanceof NotFoundError) return finish('failed', `dataset '${record.datasetId}' no longer exists`);
    throw err;
  }

  /** Polls the given runs until each has ended (or the study is cancelled / over time); true when it must stop. */
  const waitFor = async (runs: { jobId: string; state: TrialState }[], onView: (view: JobView) => Promise<void>): Promise<'done' | 'cancelled' | 'timeout'> => {
    for (;;) {
      if (deps.signal?.aborted) throw new DriverStopped('driver stopped');
      for (const run of runs) {
        if (DONE.has(run.state)) continue;
        const view = await trainingQueue.find(run.jobId);
        if (view) await onView(view);
      }
      updateProgress(record);
      await save();
      if (await deps.cancelRequested()) return 'cancelled';
      if (runs.every((r) => DONE.has(r.state))) return 'done';
      if (Date.now() > deadline) return 'timeout';
      await sleep(deps.pollMs);
    }
  };
  /** Cancels the runs still going and waits (briefly) until each has ended. */
  const stopRuns = async (runs: { jobId: string; state: TrialState }[], onView: (view: JobView) => Promise<void>) => {
    for (const run of runs) if (!DONE.has(run.state)) await trainingQueue.cancel(run.jobId).catch(() => undefined);
    const until = Date.now() + 30_000;
    while (Date.now() < until && runs.some((r) => !DONE.has(r.state))) {
      for (const run of runs) {
        if (DONE.has(run.state)) continue;
        const view = await trainingQueue.find(run.jobId);
        if (view) await onView(view);
        else run.state = 'cancelled';
      }
      if (runs.some((r) => !DONE.has(r.state))) await sleep(deps.pollMs);
    }
    for (const run of runs) if (!DONE.has(run.state)) run.state = 'cancelled';
  };

  // 1. The reference job: affinity and the per-task references, on the split every trial uses.
  if (!record.referenceJob) {
    record.referenceJob = { jobId: newId(), modelId: newId(), state: 'queued' };
    await save();
  }
  const ref = record.referenceJob;
  if (!DONE.has(ref.state)) {
    await trainingQueue.enqueueTrial(referenceSpec(record), { jobId: ref.jobId, modelId: ref.modelId }, { studyId, trialId: 'reference' });
    log('reference job queued', { studyId, jobId: ref.jobId });
    const onView = async (view: JobView) => {
      ref.state = view.state === 'running' ? 'running' : view.state;
    };
    const outcome = await waitFor([ref], onView);
    if (outcome === 'cancelled') {
      await stopRuns([ref], onView);
      return finish('cancelled');
    }
    if (outcome === 'timeout') await stopRuns([ref], onView);
    if (ref.state === 'cancelled' && outcome !== 'timeout') return finish('cancelled');
    if (ref.state === 'succeeded') {
      const meta = await models.get(ref.modelId);
      record.references = referencesOf(meta, record.base);
      if (meta.affinity) record.affinity = { tasks: meta.affinity.tasks, matrix: meta.affinity.matrix, groups: meta.affinity.groups };
    } else if (ref.state === 'failed') {
      const view = await trainingQueue.find(ref.jobId);
      return finish('failed', `the reference job failed: ${view?.error ?? 'unknown error'}`);
    }
    await save();
  }

  // 2. The trials, sampled once (seeded) and recorded before any is queued.
  if (record.trials.length === 0) {
    record.groupings = candidateGroupings(tasks, record.affinity ? suggestGroupings(record.affinity) : []);
    const plans = sampleTrials(record.search, tasks, record.groupings, record.budget.trials, record.base.training.seed);
    record.trials = plans.map((plan) => newTrial(plan, record, dataset));
    record.progress.total = 1 + rungSizes(record.trials.length, record.rungs.length, record.eta).reduce((a, b) => a + b, 0);
    await save();
    log('trials planned', { studyId, trials: record.trials.length, rungs: record.rungs });
  }

  // 3. Successive halving.
  const sizes = rungSizes(record.trials.length, record.rungs.length, record.eta);
  for (let k = 0; k < record.rungs.length; k++) {
    if (Date.now() > deadline) break;
    let entrants = record.trials.filter((t) => t.runs.some((r) => r.rung === k));
    if (entrants.length === 0) {
      const pool = k === 0 ? record.trials.filter((t) => t.state !== 'failed' || t.runs.length > 0) : record.trials.filter((t) => t.runs.some((r) => r.rung === k - 1 && r.state === 'succeeded'));
      entrants = k === 0 ? pool.filter((t) => t.runs.length === 0 && t.state === 'planned') : rank(pool).slice(0, sizes[k]);
      if (entrants.length === 0) break;
      if (k > 0) for (const t of record.trials) if (t.runs.some((r) => r.rung === k - 1) && !entrants.includes(t)) t.stoppedEarly = true;
      for (const t of entrants) t.runs.push({ rung: k, epochs: record.rungs[k], jobId: newId(), modelId: newId(), state: 'queued' });
      await save();
    }
    const runs = entrants.map((t) => [t, t.runs.find((r) => r.rung === k)!] as const);
    for (const [trial, run] of runs) {
      if (DONE.has(run.state)) continue;
      trial.jobId = run.jobId;
      trial.state = 'queued';
      trial.epochs = run.epochs;
      await trainingQueue.enqueueTrial(trialSpec(record, trial, run.epochs, dataset), { jobId: run.jobId, modelId: run.modelId }, { studyId, trialId: trial.id });
    }
    await save();
    log(`rung ${k}: ${runs.length} trials for ${record.rungs[k]} epochs`, { studyId });
    const byJob = new Map(runs.map(([t, r]) => [r.jobId, [t, r] as const]));
    const onView = async (view: JobView) => {
      const [trial, run] = byJob.get(view.id)!;
      run.state = view.state;
      trial.state = view.state;
      if (view.state === 'succeeded') await recordResult(trial, run, await models.get(run.modelId), record);
      else if (DONE.has(view.state)) recordHistory(trial, view, record);
    };
    const outcome = await waitFor(
      runs.map(([, r]) => r),
      onView,
    );
    if (outcome !== 'done') {
      await stopRuns(
        runs.map(([, r]) => r),
        onView,
      );
      if (outcome === 'cancelled') {
        for (const t of record.trials) if (!DONE.has(t.state)) t.state = 'cancelled';
        return finish('cancelled');
      }
      log('study over budget.maxMinutes: running trials cancelled; the best finished one wins', { studyId });
      break;
    }
  }
  for (const t of record.trials) {
    if (t.state === 'planned') t.state = 'cancelled';
    const last = t.runs.at(-1);
    if (last && last.rung < record.rungs.length - 1 && !t.stoppedEarly && t.state === 'succeeded') t.stoppedEarly = true;
  }

  // 4. The best trial becomes a model named after the study.
  record.pareto = paretoFront(
    record.trials.filter((t) => t.modelId !== null),
    tasks,
  );
  const best = pickBest(record.trials.filter((t) => t.modelId !== null && t.state === 'succeeded'));
  if (!best) return finish('failed', 'no trial succeeded');
  if (record.best?.trialId !== best.id) {
    const copy = await models.copyAs(best.modelId!, { id: newId(), name: record.name });
    const taskResults: NonNullable<StudyRecord['best']>['tasks'] = {};
    for (const t of tasks) {
      const { kind, value: reference } = referenceValue(record.references[t]);
      const v = best.validation[t];
      taskResults[t] = { metric: v?.metric ?? PRIMARY_METRIC[record.base.tasks.find((x) => x.name === t)!.type], value: v?.value ?? null, reference, referenceKind: kind, gain: best.gains[t] ?? null };
    }
    const gains = Object.values(taskResults).map((r) => r.gain).filter((g): g is number => g !== null);
    record.best = { trialId: best.id, modelId: copy.id, trialModelId: best.modelId!, version: copy.version ?? null, score: best.score!, tasks: taskResults, deltaM: gains.length > 0 ? gains.reduce((a, b) => a + b, 0) / gains.length : null };
  }
  record.grouping = best.grouping;
  return finish('succeeded');
}

/** A trial as first recorded: its plan, its parameter count, no run yet; a plan the spec check refuses is failed at once. */
function newTrial(plan: TrialPlan, record: StudyRecord, dataset: DatasetSummary): StudyTrial {
  const trial: StudyTrial = { ...plan, jobId: null, modelId: null, state: 'planned', runs: [], validation: {}, gains: {}, score: null, stoppedEarly: false, parameters: 0, epochs: 0 };
  try {
    const spec = trialSpec(record, trial, record.rungs.at(-1)!, dataset);
    trial.parameters = estimateTrainingMemory(spec, dataset.columns, dataset.rows).parameters;
  } catch (err) {
    trial.state = 'failed';
    trial.summary += ` (refused: ${(err as Error).message})`;
  }
  return trial;
}

/** The training spec of a trial's run: the study's base with the trial's architecture and options. */
function trialSpec(record: StudyRecord, plan: TrialPlan, epochs: number, dataset: DatasetSummary): ResolvedSpec {
  const { base } = record;
  const spec = {
    name: base.name,
    datasetId: base.datasetId,
    tasks: base.tasks,
    features: base.features,
    architecture: plan.architecture,
    lossWeighting: plan.lossWeighting,
    training: { ...stripUndefined(base.training), ...plan.training, epochs },
  } as unknown as TrainingSpec;
  return resolveSpec(spec, dataset);
}

/** The reference job: hard sharing at the last rung's epochs, with task affinity and single-task (and linear) references. */
function referenceSpec(record: StudyRecord): ResolvedSpec {
  const many = record.base.tasks.length > 1;
  return {
    ...record.base,
    architecture: { type: 'hard-sharing', sharedLayers: [64, 32], headLayers: [], activation: 'relu' } as ResolvedSpec['architecture'],
    lossWeighting: { strategy: 'static' } as ResolvedSpec['lossWeighting'],
    training: { ...record.base.training, epochs: record.rungs.at(-1)!, baselines: many, affinity: many },
  };
}

/** Per task: the single-task network's and (when the engine reports one) the linear model's validation metric. */
function referencesOf(meta: ModelMetadata, base: ResolvedSpec): Record<string, StudyReference> {
  const out: Record<string, StudyReference> = {};
  for (const task of base.tasks) {
    const b = meta.baselines?.tasks[task.name] as (Record<string, unknown> & { metricName: MetricName; stl: number | null }) | undefined;
    const linear = b?.linear as MetricValue | undefined;
    const single: MetricValue | null = b ? { metric: b.metricName, value: b.stl } : base.tasks.length === 1 ? { metric: meta.metrics[task.name].metricName, value: meta.metrics[task.name].metric } : null;
    out[task.name] = { linear: linear && typeof linear.value === 'number' ? { metric: linear.metric, value: linear.value } : null, single };
  }
  return out;
}

/** The reference a task is scored against: the linear model where there is one (the bar a network must clear), else the single-task network. */
function referenceValue(ref: StudyReference | undefined): { kind: 'linear' | 'single' | null; value: number | null } {
  if (ref?.linear?.value !== null && ref?.linear?.value !== undefined) return { kind: 'linear', value: ref.linear.value };
  if (ref?.single?.value !== null && ref?.single?.value !== undefined) return { kind: 'single', value: ref.single.value };
  return { kind: null, value: null };
}

async function recordResult(trial: StudyTrial, run: TrialRun, meta: ModelMetadata, record: StudyRecord): Promise<void> {
  trial.modelId = run.modelId;
  trial.validation = Object.fromEntries(Object.entries(meta.metrics).map(([t, m]) => [t, { metric: m.metricName, value: m.metric }]));
  score(trial, record);
}

/** A run that ended without a model (cancelled, failed): its last validated epoch, for the record only. */
function recordHistory(trial: StudyTrial, view: JobView, record: StudyRecord): void {
  const last = [...view.history].reverse().find((e) => Object.values(e.tasks).some((t) => t.valMetric !== null));
  if (!last) return;
  trial.validation = Object.fromEntries(Object.entries(last.tasks).map(([t, m]) => [t, { metric: m.metricName as MetricName, value: m.valMetric }]));
  score(trial, record);
}

function score(trial: StudyTrial, record: StudyRecord): void {
  const tasks = record.base.tasks.map((t) => t.name);
  trial.gains = Object.fromEntries(tasks.map((t) => [t, trial.validation[t] ? gainOver(trial.validation[t].metric, trial.validation[t].value, referenceValue(record.references[t]).value) : null]));
  trial.score = scoreOf(trial.gains, tasks);
}

/** Best first: score, then fewer parameters, then id (deterministic). */
function rank(trials: StudyTrial[]): StudyTrial[] {
  return [...trials].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity) || a.parameters - b.parameters || a.id.localeCompare(b.id));
}

function updateProgress(record: StudyRecord): void {
  const runs = record.trials.flatMap((t) => t.runs);
  record.progress.done = (record.referenceJob && DONE.has(record.referenceJob.state) ? 1 : 0) + runs.filter((r) => DONE.has(r.state)).length;
  record.progress.total = Math.max(record.progress.total, record.progress.done);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
