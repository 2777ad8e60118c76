/**
 * A study's search space and its seeded sampler. Pure: no I/O. Which architectures, strategies and
 * options exist is read from the registries and the spec schema, so a new architecture (say
 * `branched`) or option (say `training.weightDecay`) joins the search through data: a template in
 * ARCHITECTURE_TEMPLATES and an entry in the search space, nothing else.
 */
import { ARCHITECTURE_TYPES, ARCHITECTURES } from './architectures/index.js';
import { LOSS_WEIGHTING_STRATEGIES } from './loss-weighting/index.js';
import { createRng } from './rng.js';
import { TrainingOptionsSchema } from './spec.js';
import type { FieldError } from './spec-error.js';

/** The resolved search space: every list has at least one value. */
export interface StudySearch {
  architectures: string[];
  lossWeighting: string[];
  learningRate: number[];
  batchSize: number[];
  /** Units of the first hidden layer; deeper layers halve it. */
  widths: number[];
  /** Hidden layers of a trunk / expert / branch. */
  depths: number[];
  weightDecay: number[];
  dropout: number[];
  /** Successive halving: epochs of the first rung and of the last. */
  epochs: { min: number; max: number };
  eta: number;
}

/** A trial as planned: the parts of its spec that vary. */
export interface TrialPlan {
  id: string;
  /** A short human summary: architecture, grouping, layers, strategy, learning rate, batch size. */
  summary: string;
  architecture: Record<string, unknown>;
  lossWeighting: { strategy: string };
  training: { learningRate: number; batchSize: number; weightDecay?: number };
  /** How the trial groups the tasks (one group when every task shares everything). */
  grouping: string[][];
}

/** What an architecture template gets: the hidden layers and (for architectures that express one) a grouping of the tasks. */
export interface TemplateArgs {
  layers: number[];
  tasks: string[];
  grouping: string[][];
}

/**
 * How the search writes each architecture: the spec's `architecture` object for some hidden layers
 * and a grouping, and whether the grouping is expressed (else the trial shares everything).
 */
export const ARCHITECTURE_TEMPLATES: Record<string, { groups: boolean; write: (a: TemplateArgs) => Record<string, unknown> }> = {
  'hard-sharing': { groups: false, write: ({ layers }) => ({ type: 'hard-sharing', sharedLayers: layers, headLayers: [] }) },
  'soft-sharing': { groups: false, write: ({ layers }) => ({ type: 'soft-sharing', sharedLayers: layers, headLayers: [] }) },
  mmoe: { groups: false, write: ({ layers }) => ({ type: 'mmoe', experts: 4, expertLayers: layers, towerLayers: [Math.max(8, Math.round(layers.at(-1)! / 2))] }) },
  ple: { groups: false, write: ({ layers }) => ({ type: 'ple', expertLayers: layers, towerLayers: [Math.max(8, Math.round(layers.at(-1)! / 2))] }) },
  'dselect-k': { groups: false, write: ({ layers }) => ({ type: 'dselect-k', expertLayers: layers, towerLayers: [Math.max(8, Math.round(layers.at(-1)! / 2))] }) },
  // A trunk per group of tasks (a group of one is a task's own tower); all together is one trunk.
  branched: {
    groups: true,
    write: ({ layers, grouping }) =>
      grouping.length === 1
        ? { type: 'branched', tree: { layers, tasks: grouping[0] } }
        : { type: 'branched', tree: { layers: [], branches: grouping.map((g) => ({ layers, tasks: g })) } },
  },
};

/** Whether the engine has an architecture / a training option (both arrive through the registries). */
export const hasArchitecture = (type: string) => (ARCHITECTURE_TYPES as string[]).includes(type) && type in ARCHITECTURE_TEMPLATES;
const hasTrainingOption = (name: string) => name in (TrainingOptionsSchema.properties as Record<string, unknown>);
const hasDropout = () => 'dropout' in ((ARCHITECTURES['hard-sharing'].schema as { properties?: Record<string, unknown> }).properties ?? {});

/** The default search space, narrowed to what this engine has. */
export function defaultSearch(): StudySearch {
  return {
    architectures: ['branched', 'hard-sharing', 'mmoe'].filter(hasArchitecture),
    lossWeighting: ['static', 'uncertainty', 'dwa'].filter((s) => (LOSS_WEIGHTING_STRATEGIES as string[]).includes(s)),
    learningRate: [0.001, 0.003, 0.01],
    batchSize: [32, 64, 128],
    widths: [32, 64, 128],
    depths: [1, 2],
    weightDecay: hasTrainingOption('weightDecay') ? [0, 1e-4, 1e-3] : [0],
    dropout: hasDropout() ? [0, 0.1, 0.2] : [0],
    epochs: { min: 3, max: 27 },
    eta: 3,
  };
}

export type SearchRequest = Partial<Omit<StudySearch, 'epochs'>> & { epochs?: Partial<StudySearch['epochs']> };

/** The request's `search` over the defaults; unknown architectures or strategies, and options the engine lacks, are errors at /search/…. */
export function resolveSearch(given: SearchRequest | undefined, errors: FieldError[]): StudySearch {
  const search = { ...defaultSearch(), ...stripUndefined(given ?? {}), epochs: { ...defaultSearch().epochs, ...stripUndefined(given?.epochs ?? {}) } } as StudySearch;
  search.architectures.forEach((a, i) => {
    if (!hasArchitecture(a))
      errors.push({ pointer: `/search/architectures/${i}`, detail: `unknown architecture '${a}'; known: ${ARCHITECTURE_TYPES.filter(hasArchitecture).join(', ')}` });
  });
  search.lossWeighting.forEach((s, i) => {
    if (!(LOSS_WEIGHTING_STRATEGIES as string[]).includes(s)) errors.push({ pointer: `/search/lossWeighting/${i}`, detail: `unknown loss weighting strategy '${s}'; known: ${LOSS_WEIGHTING_STRATEGIES.join(', ')}` });
  });
  if (given?.weightDecay?.some((w) => w !== 0) && !hasTrainingOption('weightDecay')) errors.push({ pointer: '/search/weightDecay', detail: 'this engine has no training.weightDecay yet' });
  if (given?.dropout?.some((d) => d !== 0) && !hasDropout()) errors.push({ pointer: '/search/dropout', detail: 'this engine has no architecture.dropout yet' });
  for (const key of ['architectures', 'lossWeighting', 'learningRate', 'batchSize', 'widths', 'depths', 'weightDecay', 'dropout'] as const)
    if (search[key].length === 0) errors.push({ pointer: `/search/${key}`, detail: 'the search space is empty: give at least one value' });
  if (search.epochs.min > search.epochs.max) errors.push({ pointer: '/search/epochs/min', detail: `min (${search.epochs.min}) is above max (${search.epochs.max})` });
  return search;
}

/** Successive halving's rungs: min, min·eta, min·eta², … epochs, the last one `max`. */
export function rungEpochs(epochs: StudySearch['epochs'], eta: number, trials: number): number[] {
  const rungs: number[] = [];
  let e = epochs.min;
  let n = trials;
  while (e < epochs.max && n > 1) {
    rungs.push(e);
    e *= eta;
    n = Math.ceil(n / eta);
  }
  rungs.push(epochs.max);
  return rungs;
}

/** How many trials run at each rung: all at the first, then the best 1/eta of the rung before. */
export function rungSizes(trials: number, rungs: number, eta: number): number[] {
  const sizes = [trials];
  for (let k = 1; k < rungs; k++) sizes.push(Math.max(1, Math.ceil(sizes[k - 1] / eta)));
  return sizes;
}

/**
 * `count` distinct trials drawn with a seeded generator (same seed, same trials, same order).
 * Architectures take turns so every one is tried; an architecture that expresses groupings takes
 * them in turn too.
 */
export function sampleTrials(search: StudySearch, tasks: string[], groupings: string[][][], count: number, seed: number): TrialPlan[] {
  const rng = createRng(seed ^ 0x5eed);
  const pick = <T>(values: T[]): T => values[Math.floor(rng() * values.length)];
  const trials: TrialPlan[] = [];
  const seen = new Set<string>();
  const allTogether = [tasks];
  const groupingsOf = groupings.length > 0 ? groupings : [allTogether];
  let grouped = 0;
  for (let i = 0; trials.length < count && i < count * 20; i++) {
    const type = search.architectures[trials.length % search.architectures.length];
    const template = ARCHITECTURE_TEMPLATES[type];
    const grouping = template.groups ? groupingsOf[grouped % groupingsOf.length] : allTogether;
    const width = pick(search.widths);
    const depth = pick(search.depths);
    const layers = Array.from({ length: depth }, (_, d) => Math.max(4, Math.round(width / 2 ** d)));
    const architecture = template.write({ layers, tasks, grouping });
    const dropout = pick(search.dropout);
    if (dropout > 0) architecture.dropout = dropout;
    const strategy = pick(search.lossWeighting);
    const learningRate = pick(search.learningRate);
    const batchSize = pick(search.batchSize);
    const weightDecay = pick(search.weightDecay);
    const training = { learningRate, batchSize, ...(weightDecay > 0 ? { weightDecay } : {}) };
    const key = JSON.stringify([architecture, strategy, training]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (template.groups) grouped++;
    const groupText = template.groups ? ` ${grouping.map((g) => `[${g.join(',')}]`).join('')}` : '';
    const extras = [dropout > 0 ? `dropout ${dropout}` : '', weightDecay > 0 ? `wd ${weightDecay}` : ''].filter(Boolean).join(' ');
    trials.push({
      id: `t${String(trials.length + 1).padStart(2, '0')}`,
      summary: `${type}${groupText} ${layers.join('-')} ${strategy} lr ${learningRate} bs ${batchSize}${extras ? ` ${extras}` : ''}`,
      architecture,
      lossWeighting: { strategy },
      training,
      grouping: template.groups ? grouping : allTogether,
    });
  }
  return trials;
}

/** Groupings worth trying: the suggested ones, all together, each alone (duplicates dropped, order kept). */
export function candidateGroupings(tasks: string[], suggested: string[][][]): string[][][] {
  const out: string[][][] = [];
  const seen = new Set<string>();
  const normal = (g: string[][]) => g.map((group) => [...group].sort((a, b) => tasks.indexOf(a) - tasks.indexOf(b))).sort((a, b) => tasks.indexOf(a[0]) - tasks.indexOf(b[0]));
  for (const g of [...suggested, [tasks], tasks.map((t) => [t])]) {
    const n = normal(g);
    const key = JSON.stringify(n);
    if (n.flat().length !== tasks.length || seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
