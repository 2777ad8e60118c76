import { decodePredictions, encodeInstances, type HeadOutputs, type InstancePrediction } from '../mtl/predictor.js';
import type { Preprocessing } from '../mtl/preprocessing.js';
import type { Row } from '../mtl/values.js';
import type { LoadedModel, ModelCache } from './model-cache.js';
import { BatcherClosedError } from './predict-batcher.js';
import { HttpProblem } from './problem.js';

export interface TaskSelection {
  /** Only these tasks (in this order); every task when absent. */
  tasks?: readonly string[];
  /** The error for a task the model does not have (`index` in `tasks`); a 400 naming `/tasks/<index>` by default. */
  unknownTask?: (task: string, index: number, model: LoadedModel) => Error;
}

/** The model's outputs for one request: `outputs[i]` is the head of task `tasks[i]` (task indexes). */
export interface ServedForward {
  model: LoadedModel;
  tasks: number[];
  outputs: HeadOutputs;
}

/**
 * Predicts one request's instances with the model `ref` names: encodes them first (a bad instance
 * fails this request alone, with FeatureValueError), joins the model's micro-batch, and decodes
 * exactly this request's rows. A model unloaded while the request waited is loaded again.
 */
export async function servePredictions(cache: ModelCache, ref: string, instances: Row[], selection: TaskSelection = {}): Promise<{ model: LoadedModel; predictions: InstancePrediction[] }> {
  const { model, tasks, outputs } = await serveForward(cache, ref, (prep) => encodeInstances(prep, instances), instances.length, selection);
  const prep = model.metadata.preprocessing;
  return { model, predictions: decodePredictions(selectedTasks(prep, tasks), outputs, instances.length) };
}

/**
 * The protocol-neutral part of serving: resolves the model, encodes `rows` rows with `encode`, and
 * runs them through the batcher of the asked-for tasks (a sub-model computing only those heads
 * where there is one, see HeadBatchers), retrying when the model was unloaded meanwhile.
 */
export async function serveForward(cache: ModelCache, ref: string, encode: (prep: Preprocessing) => Float32Array, rows: number, selection: TaskSelection = {}): Promise<ServedForward> {
  for (let attempt = 1; ; attempt++) {
    const model = await cache.resolve(ref);
    const prep = model.metadata.preprocessing;
    const tasks = selection.tasks === undefined ? prep.tasks.map((_, i) => i) : taskIndexes(model, selection);
    const x = encode(prep);
    // A cascaded task's conditional probability is one more output of the whole model, after every
    // head (one per cascaded task, in task order): asking for such a task takes the whole model.
    const conditional = conditionalOutputs(prep);
    const cascaded = tasks.filter((t) => conditional.has(t));
    const heads = cascaded.length > 0 ? model.serving.outputs.map((_, i) => i) : [...new Set(tasks)].sort((a, b) => a - b);
    const chosen = model.batcherFor(heads);
    try {
      const computed = await chosen.batcher.run(x, rows);
      const outputs = [...tasks.map((t) => computed[chosen.heads.indexOf(t)]), ...cascaded.map((t) => computed[conditional.get(t)!])];
      return { model, tasks, outputs };
    } catch (err) {
      if (!(err instanceof BatcherClosedError) || attempt >= 3) throw err;
    }
  }
}

/** Task index → index of its conditional output in the whole model, for every cascaded task (see decodePredictions). */
function conditionalOutputs(prep: Preprocessing): Map<number, number> {
  const map = new Map<number, number>();
  prep.tasks.forEach((enc, t) => {
    if (enc.type === 'binary' && enc.dependsOn !== undefined) map.set(t, prep.tasks.length + map.size);
  });
  return map;
}

/** The preprocessing with only `tasks` (task indexes), in that order: what decodes their outputs. */
export function selectedTasks(prep: Preprocessing, tasks: readonly number[]): Preprocessing {
  if (tasks.length === prep.tasks.length && tasks.every((t, i) => t === i)) return prep;
  return { ...prep, tasks: tasks.map((t) => prep.tasks[t]) };
}

function taskIndexes(model: LoadedModel, selection: TaskSelection): number[] {
  const index = new Map(model.metadata.preprocessing.tasks.map((t, i) => [t.task, i]));
  return selection.tasks!.map((task, i) => {
    const t = index.get(task);
    if (t !== undefined) return t;
    throw selection.unknownTask?.(task, i, model) ?? unknownTaskProblem(task, i, model);
  });
}

function unknownTaskProblem(task: string, i: number, model: LoadedModel): HttpProblem {
  const { name, version, preprocessing } = model.metadata;
  const detail = `model '${name}'${version ? ` v${version}` : ''} has no task '${task}'; its tasks are ${preprocessing.tasks.map((t) => t.task).join(', ')}`;
  return new HttpProblem(400, 'Unknown task', detail, [{ pointer: `/tasks/${i}`, detail }]);
}
