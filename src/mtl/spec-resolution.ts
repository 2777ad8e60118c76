import type { ColumnInfo } from './column-inference.js';
import { DEFAULT_ARCHITECTURE, DEFAULT_TRAINING, type ResolvedSpec, type TrainingSpec } from './spec.js';
import { DEFAULT_CALIBRATION } from './spec-fields.js';
import { architectureOf, ARCHITECTURE_TYPES, ARCHITECTURES, type ResolvedArchitecture } from './architectures/index.js';
import { LOSS_WEIGHTING_STRATEGIES, LOSS_WEIGHTINGS, type ResolvedLossWeighting } from './loss-weighting/index.js';
import { resolveVariant } from './spec-variants.js';
import { SpecError, type FieldError } from './spec-error.js';

export interface DatasetSummary {
  id: string;
  name: string;
  rows: number;
  columns: ColumnInfo[];
}

/**
 * Fills in defaults and checks a spec against its dataset's columns, so a spec that cannot work
 * is refused before it is queued. Throws a SpecError listing every problem found.
 */
export function resolveSpec(spec: TrainingSpec, dataset: DatasetSummary): ResolvedSpec {
  const errors: FieldError[] = [];
  const columns = new Map(dataset.columns.map((c) => [c.name, c]));

  const taskNames = new Set<string>();
  const taskColumns = new Set<string>();
  const tasks: ResolvedSpec['tasks'] = spec.tasks.map((t, i) => {
    const at = `/tasks/${i}`;
    const column = t.column ?? t.name;
    if (taskNames.has(t.name)) errors.push({ pointer: `${at}/name`, detail: `task name '${t.name}' is used twice` });
    const reserved = reservedNameProblem(t.name, spec.tasks.map((o) => o.name));
    if (reserved) errors.push({ pointer: `${at}/name`, detail: reserved });
    taskNames.add(t.name);
    taskColumns.add(column);
    const info = columns.get(column);
    if (!info) {
      errors.push({ pointer: `${at}/column`, detail: `dataset has no column '${column}'` });
    } else {
      const problem = taskColumnProblem(t.type, info, dataset.rows);
      if (problem) errors.push({ pointer: `${at}/column`, detail: problem });
      if (t.positiveLabel !== undefined && t.type !== 'binary')
        errors.push({ pointer: `${at}/positiveLabel`, detail: 'positiveLabel is only for binary tasks' });
    }
    const resolved: ResolvedSpec['tasks'][number] = { name: t.name, column, type: t.type, weight: t.weight ?? 1 };
    if (t.positiveLabel !== undefined) resolved.positiveLabel = t.positiveLabel;
    if (t.dependsOn !== undefined) {
      resolved.dependsOn = t.dependsOn;
      resolved.mode = t.mode ?? 'esmm';
      if (resolved.mode === 'aitm') resolved.calibration = t.calibration ?? DEFAULT_CALIBRATION;
    }
    return resolved;
  });
  errors.push(...cascadeProblems(spec.tasks));

  let features: ResolvedSpec['features'];
  if (spec.features) {
    const seen = new Set<string>();
    features = spec.features.map((f, i) => {
      const at = `/features/${i}`;
      const info = columns.get(f.name);
      if (seen.has(f.name)) errors.push({ pointer: `${at}/name`, detail: `feature '${f.name}' is listed twice` });
      seen.add(f.name);
      if (!info) {
        errors.push({ pointer: `${at}/name`, detail: `dataset has no column '${f.name}'` });
        return { name: f.name, type: f.type ?? 'numeric' };
      }
      if (taskColumns.has(f.name)) errors.push({ pointer: `${at}/name`, detail: `column '${f.name}' is predicted by a task and cannot also be an input` });
      const type = f.type ?? (info.type === 'numeric' ? 'numeric' : 'categorical');
      if (type === 'numeric' && info.type !== 'numeric' && info.type !== 'boolean' && info.type !== 'empty')
        errors.push({ pointer: `${at}/type`, detail: `column '${f.name}' holds ${info.type} values, not numbers; use type 'categorical'` });
      if (info.type === 'multilabel')
        errors.push({ pointer: `${at}/name`, detail: `column '${f.name}' holds lists; list-valued inputs are not supported` });
      return { name: f.name, type };
    });
  } else {
    features = dataset.columns
      .filter((c) => !taskColumns.has(c.name) && c.type !== 'empty' && c.type !== 'multilabel')
      .filter((c) => c.type === 'numeric' || c.type === 'boolean' || !c.distinctCapped)
      .map((c) => ({ name: c.name, type: c.type === 'numeric' || c.type === 'boolean' ? 'numeric' : 'categorical' }));
    if (features.length === 0) errors.push({ pointer: '/features', detail: 'no column is left to use as input; list features explicitly' });
  }

  const architecture = resolveArchitecture(spec.architecture ?? {}, tasks.map((t) => t.name), errors);
  const lossWeighting = resolveLossWeighting(spec.lossWeighting, errors);
  const training = { ...DEFAULT_TRAINING, ...stripUndefined(spec.training ?? {}) } as ResolvedSpec['training'];
  const es = spec.training?.earlyStopping;
  training.earlyStopping = es === false ? false : { ...(DEFAULT_TRAINING.earlyStopping as object), ...stripUndefined(es ?? {}) } as ResolvedSpec['training']['earlyStopping'];
  const monitor = training.monitor;
  if (typeof monitor === 'object' && !taskNames.has(monitor.task))
    errors.push({ pointer: '/training/monitor/task', detail: `no task named '${monitor.task}'` });
  if (training.baselines && tasks.length < 2) errors.push({ pointer: '/training/baselines', detail: 'single-task baselines need at least two tasks' });

  if (errors.length > 0) throw new SpecError(errors);
  return {
    name: spec.name ?? defaultModelName(dataset.name),
    datasetId: spec.datasetId,
    features,
    tasks,
    architecture,
    lossWeighting,
    training,
  };
}

/** The architecture with its defaults, checked field by field against its type's schema (architectures/index.ts). */
function resolveArchitecture(given: NonNullable<TrainingSpec['architecture']>, tasks: string[], errors: FieldError[]): ResolvedArchitecture {
  const variants = ARCHITECTURE_TYPES.map((t) => ARCHITECTURES[t].schema);
  const resolved = resolveVariant<ResolvedArchitecture>(variants, 'type', { ...given, type: given.type ?? 'hard-sharing' }, '/architecture', errors);
  if (!resolved) return DEFAULT_ARCHITECTURE;
  const architecture = architectureOf(resolved);
  const problems = architecture.check?.(resolved, tasks) ?? [];
  errors.push(...problems);
  return problems.length === 0 && architecture.resolve ? architecture.resolve(resolved, tasks) : resolved;
}

/** The loss weighting with its parameters' defaults (loss-weighting/index.ts); static when the spec names none. */
function resolveLossWeighting(given: TrainingSpec['lossWeighting'], errors: FieldError[]): ResolvedLossWeighting {
  const variants = LOSS_WEIGHTING_STRATEGIES.map((s) => LOSS_WEIGHTINGS[s].schema);
  return resolveVariant<ResolvedLossWeighting>(variants, 'strategy', given ?? { strategy: 'static' }, '/lossWeighting', errors) ?? { strategy: 'static' };
}

/**
 * Cascaded tasks (cascade.ts): `dependsOn` names another task, both binary, without cycles; `mode`
 * and `calibration` only with `dependsOn`, `calibration` only for aitm. Pointers /tasks/<i>/<field>.
 */
function cascadeProblems(tasks: TrainingSpec['tasks']): FieldError[] {
  const errors: FieldError[] = [];
  const byName = new Map(tasks.map((t) => [t.name, t]));
  tasks.forEach((t, i) => {
    const at = `/tasks/${i}`;
    if (t.dependsOn === undefined) {
      if (t.mode !== undefined) errors.push({ pointer: `${at}/mode`, detail: 'mode applies only to a task with dependsOn' });
      if (t.calibration !== undefined) errors.push({ pointer: `${at}/calibration`, detail: 'calibration applies only to a task with dependsOn and mode "aitm"' });
      return;
    }
    if (t.calibration !== undefined && t.mode !== 'aitm') errors.push({ pointer: `${at}/calibration`, detail: `calibration applies only to mode "aitm", not "${t.mode ?? 'esmm'}"` });
    const parent = byName.get(t.dependsOn);
    if (t.dependsOn === t.name) errors.push({ pointer: `${at}/dependsOn`, detail: 'a task cannot depend on itself' });
    else if (!parent) errors.push({ pointer: `${at}/dependsOn`, detail: `no task named '${t.dependsOn}'` });
    else if (t.type !== 'binary' || parent.type !== 'binary')
      errors.push({
        pointer: `${at}/dependsOn`,
        detail: `only a binary task can depend on a binary task; '${t.name}' is ${t.type} and '${parent.name}' is ${parent.type}`,
      });
    else {
      // Follow the parents: coming back to this task is a cycle (each task has at most one parent).
      const path = [t.name];
      let next: typeof parent | undefined = parent;
      while (next) {
        if (next.name === t.name) {
          errors.push({ pointer: `${at}/dependsOn`, detail: `the dependencies form a cycle: ${[...path, t.name].map((n) => `'${n}'`).join(' → ')}` });
          break;
        }
        if (path.includes(next.name)) break; // a cycle further up, reported on its own tasks
        path.push(next.name);
        next = next.dependsOn !== undefined ? byName.get(next.dependsOn) : undefined;
      }
    }
  });
  return errors;
}

/** Task names become layer names: they must not clash with the input, shared layers or another task's layers. */
function reservedNameProblem(name: string, all: string[]): string | undefined {
  if (name === 'features') return `'features' is the name of the input layer; choose another task name`;
  if (name.startsWith('shared')) return `task names may not start with 'shared' (reserved for shared layers)`;
  const other = all.find((o) => o !== name && name.startsWith(`${o}_`));
  if (other) return `'${name}' clashes with the layers of task '${other}' (named '${other}_…'); choose another task name`;
  return undefined;
}

function taskColumnProblem(type: string, info: ColumnInfo, rows: number): string | undefined {
  if (info.type === 'empty' || info.missing >= rows) return `column '${info.name}' has no values: every row is missing it`;
  switch (type) {
    case 'regression':
      if (info.type !== 'numeric') return `regression needs numbers, but column '${info.name}' holds ${info.type} values`;
      return undefined;
    case 'binary':
      if (info.distinct > 2) return `binary task needs two labels, but column '${info.name}' has ${info.distinctCapped ? 'over ' : ''}${info.distinct} distinct values; use 'classification'`;
      if (info.distinct < 2) return `binary task needs two labels, but column '${info.name}' has only one value`;
      return undefined;
    case 'classification':
      if (info.distinct < 2) return `classification needs at least two labels, but column '${info.name}' has ${info.distinct}`;
      if (info.distinctCapped) return `column '${info.name}' has over ${info.distinct} distinct values: too many classes`;
      return undefined;
    case 'multilabel':
      return undefined;
    default:
      return `unknown task type '${type}'`;
  }
}

function defaultModelName(datasetName: string): string {
  const cleaned = datasetName.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z]+/, '');
  return (cleaned || 'model').slice(0, 60);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
