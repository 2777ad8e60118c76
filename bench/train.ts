/**
 * Training-engine benchmark: the issue-4 reference model trained through the project's own engine
 * (`trainOnRows`: resolved spec, preprocessing, masked per-task losses, loss weighting, Adam — the
 * path the worker runs), on synthetic data shaped like ../shared/bench/torch_peer.py's.
 *
 *   npm run bench:train -- --json [--n 20000] [--epochs 3] [--batch 256] [--tasks 3]
 *                                 [--backend auto|blas|wasm|cpu|tensorflow|webgpu] [--affinity]
 *                                 [--shared 256,128] [--predict-batch 1024] [--cpu-prof out.cpuprofile]
 *
 * Reference model: 784 inputs → Dense 256 relu → Dense 128 relu (shared) → heads: softmax over 10
 * classes, sigmoid binary, linear regression (with --tasks N, N heads cycling those three kinds);
 * Adam 1e-3; the sum of the task losses (static weights 1). Inputs are N(0, 1), targets come from a
 * random linear teacher (784 → one column per output) as in the peer. No validation split, no early
 * stopping, task affinity off unless --affinity (it costs one extra backward pass per task on 8
 * sampled steps per epoch).
 *
 * Prints one JSON line: trainSamplesPerSec (epochs after the first), predictSamplesPerSec (n
 * distinct rows, one forward pass per --predict-batch rows and one for the tail, through the
 * predictor's forwardPass, as the peer times its prediction), backend, kernels, peak RSS, and
 * per-epoch numbers (tensor count after each epoch: it must stay flat). --cpu-prof writes a V8 CPU
 * profile of the epochs after the first (open it in Chrome DevTools). MTL_FUSED, MTL_BLAS_THREADS
 * and MTL_BLAS_ADDON come from the environment, as for the worker (src/config.ts).
 *
 *   npm run bench:train -- --weighting <strategy>[,<strategy>…]|all [--repeat 3] [--json]
 *
 * compares loss-weighting strategies instead: the same model and data trained once per strategy
 * (`static` first, as the baseline, then each in turn, `--repeat` rounds), and prints per strategy
 * the training step's wall time (the median over the rounds of the epochs after the first), its CPU
 * time per step (evaluation included) and both relative to `static` in the same run.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config.js';
import { selectBackend, type BackendPreference } from '../src/mtl/backend.js';
import { ColumnInference } from '../src/mtl/column-inference.js';
import { disposeModel, trainOnRows } from '../src/mtl/pipeline.js';
import { forwardPass } from '../src/mtl/predictor.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import { LOSS_WEIGHTING_STRATEGIES, type LossWeightingStrategy, type TaskType, type TrainingSpec } from '../src/mtl/spec.js';
import type { Row } from '../src/mtl/values.js';
import { rowScanSource, type RowSource } from '../src/mtl/row-source.js';
import { median, roundTo } from './lib/stats.js';

interface Options {
  json: boolean;
  n: number;
  epochs: number;
  batch: number;
  tasks: number;
  backend: BackendPreference;
  affinity: boolean;
  shared: number[];
  predictBatch: number;
  inputs: number;
  cpuProf?: string;
  /** Compare these loss-weighting strategies ('all': every one) instead of the one static run. */
  weighting?: string;
  repeat?: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    json: false, n: 20000, epochs: 3, batch: 256, tasks: 3, backend: (process.env.TF_BACKEND as BackendPreference) || 'auto',
    affinity: false, shared: [256, 128], predictBatch: 1024, inputs: 784,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--n') o.n = Number(next());
    else if (a === '--epochs') o.epochs = Number(next());
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--tasks') o.tasks = Number(next());
    else if (a === '--backend') o.backend = next() as BackendPreference;
    else if (a === '--affinity') o.affinity = true;
    else if (a === '--no-affinity') o.affinity = false;
    else if (a === '--shared') o.shared = next().split(',').map(Number);
    else if (a === '--predict-batch') o.predictBatch = Number(next());
    else if (a === '--inputs') o.inputs = Number(next());
    else if (a === '--cpu-prof') o.cpuProf = next();
    else if (a === '--weighting') o.weighting = next();
    else if (a === '--repeat') o.repeat = Number(next());
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const KINDS: TaskType[] = ['classification', 'binary', 'regression'];
const WIDTH: Record<string, number> = { classification: 10, binary: 1, regression: 1 };

/** Seeded standard normals (xorshift + Box–Muller). */
function normals(seed: number) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Synthetic rows: `inputs` N(0,1) features f0…; per task, a target from its columns of a linear
 * teacher. A source that makes the same rows again on every scan, as the store streams a dataset
 * to the worker: the process never holds them as objects, so peak RSS is the engine's.
 */
function syntheticRows(n: number, inputs: number, kinds: TaskType[]): RowSource {
  return rowScanSource(n, async (visit) => generateRows(n, inputs, kinds, visit));
}

function generateRows(n: number, inputs: number, kinds: TaskType[], visit: (row: Row, index: number) => void): void {
  const rand = normals(12345);
  const outCols = kinds.reduce((a, k) => a + WIDTH[k], 0);
  const teacher = new Float32Array(inputs * outCols);
  for (let i = 0; i < teacher.length; i++) teacher[i] = rand() / Math.sqrt(inputs);
  const names = Array.from({ length: inputs }, (_, j) => `f${j}`);
  const x = new Float64Array(inputs);
  const t = new Float64Array(outCols);
  for (let r = 0; r < n; r++) {
    const row: Row = {};
    for (let j = 0; j < inputs; j++) {
      x[j] = rand();
      row[names[j]] = x[j];
    }
    t.fill(0);
    for (let j = 0; j < inputs; j++) {
      const xj = x[j];
      const base = j * outCols;
      for (let c = 0; c < outCols; c++) t[c] += xj * teacher[base + c];
    }
    let c = 0;
    kinds.forEach((k, ti) => {
      if (k === 'classification') {
        let best = 0;
        for (let q = 1; q < 10; q++) if (t[c + q] > t[c + best]) best = q;
        row[`task${ti}`] = best;
      } else if (k === 'binary') row[`task${ti}`] = t[c] > 0 ? 1 : 0;
      else row[`task${ti}`] = t[c];
      c += WIDTH[k];
    });
    visit(row, r);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const backend = await selectBackend(o.backend, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
  const kinds = Array.from({ length: o.tasks }, (_, i) => KINDS[i % KINDS.length]);
  const rows = syntheticRows(o.n, o.inputs, kinds);
  let inference: ColumnInference | undefined;
  await rows.scan((r) => (inference ??= new ColumnInference(Object.keys(r))).add(r));
  const summary = { id: 'synthetic', name: 'synthetic', rows: rows.count, columns: inference!.columns() };
  if (o.weighting) return compareWeightings(o, kinds, rows, summary, backend.name);
  const resolved = resolveSpec(benchSpec(o, kinds, 'static'), summary);

  const tensorsBefore = tf.memory().numTensors;
  const tensorsPerEpoch: number[] = [];
  const rssPerEpochMiB: number[] = [];
  const cpuAtEpoch: number[] = [];
  const session = o.cpuProf ? new Session() : null;
  session?.connect();
  const trained = await trainOnRows(resolved, rows, {
    fused: config.MTL_FUSED,
    onEpoch: async (report) => {
      tensorsPerEpoch.push(tf.memory().numTensors);
      rssPerEpochMiB.push(Math.round(process.memoryUsage().rss / 2 ** 20));
      const cpu = process.cpuUsage();
      cpuAtEpoch.push((cpu.user + cpu.system) / 1000);
      if (session && report.epoch === 1) {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
        await session.post('Profiler.start');
      }
    },
  });
  if (session && o.cpuProf) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(o.cpuProf, JSON.stringify(profile));
    session.disconnect();
  }
  const h = trained.result.history;
  const warm = h.length > 1 ? h.slice(1) : h;
  const warmMs = warm.reduce((a, e) => a + e.durationMs, 0);
  const trainSamplesPerSec = (trained.rows.train * warm.length * 1000) / warmMs;
  const steps = Math.ceil(trained.rows.train / o.batch);

  // Prediction: the serving model, one forward pass (every head) per `predictBatch` rows, as the
  // predictor runs it, over n distinct rows (the last pass takes the tail), as the peer walks its
  // whole x in 1024-row slices: no pass re-reads a cache-warm buffer.
  const inputSize = trained.preprocessing.inputSize;
  const xs = new Float32Array(o.n * inputSize);
  const rand = normals(777);
  for (let i = 0; i < xs.length; i++) xs[i] = rand();
  const slice = (start: number) => {
    const rows = Math.min(o.predictBatch, o.n - start);
    return { rows, x: xs.subarray(start * inputSize, (start + rows) * inputSize) };
  };
  const first = slice(0);
  forwardPass(trained.model.serving, inputSize, first.x, first.rows); // warm-up (the peer's too)
  const predictTimes: number[] = [];
  const fullPassTimes: number[] = [];
  for (let start = 0; start < o.n; start += o.predictBatch) {
    const { rows: r, x } = slice(start);
    const t0 = performance.now();
    forwardPass(trained.model.serving, inputSize, x, r);
    const ms = performance.now() - t0;
    predictTimes.push(ms);
    if (r === o.predictBatch) fullPassTimes.push(ms);
  }
  const predictSamplesPerSec = (o.n * 1000) / predictTimes.reduce((a, b) => a + b, 0);

  const ownedWeights = trained.model.serving.weights.length;
  const tensorsAfter = tf.memory().numTensors;
  disposeModel(trained.model);
  const result = {
    engine: 'mtl-service',
    backend: backend.name,
    package: backend.detail,
    kernels: backend.kernels,
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    n: o.n,
    batch: o.batch,
    epochs: o.epochs,
    tasks: o.tasks,
    heads: kinds.map((k) => k.slice(0, 3)).join(','),
    shared: o.shared,
    affinity: o.affinity,
    trainSamplesPerSec: Math.round(trainSamplesPerSec * 10) / 10,
    msPerStep: roundTo(warmMs / (warm.length * steps), 3),
    // CPU time (all threads) per step over the epochs after the first, per-epoch evaluation included:
    // a load-independent measure of the work a step takes (wall time on a shared machine is not).
    cpuMsPerStep: cpuAtEpoch.length > 1 ? roundTo((cpuAtEpoch.at(-1)! - cpuAtEpoch[0]) / ((cpuAtEpoch.length - 1) * steps), 3) : null,
    predictSamplesPerSec: Math.round(predictSamplesPerSec * 10) / 10,
    // Median over the full-size passes (the tail is shorter); over all of them when n < predictBatch.
    predictMsPerPass: roundTo(median(fullPassTimes.length ? fullPassTimes : predictTimes), 3),
    epochSamplesPerSec: h.map((e) => Math.round(e.samplesPerSec)),
    epochLoss: h.map((e) => Math.round(e.loss * 1e4) / 1e4),
    tensorsPerEpoch,
    tensorsLeaked: tf.memory().numTensors - tensorsBefore,
    tensorsHeldByModel: tensorsAfter - tensorsBefore - ownedWeights,
    rssPerEpochMiB,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (o.json) console.log(JSON.stringify(result));
  else console.log(result);
}

/** The reference model's spec with the given loss weighting. */
function benchSpec(o: Options, kinds: TaskType[], strategy: LossWeightingStrategy): TrainingSpec {
  return {
    datasetId: 'synthetic',
    features: Array.from({ length: o.inputs }, (_, j) => ({ name: `f${j}`, type: 'numeric' as const })),
    tasks: kinds.map((type, i) => ({ name: `task${i}`, type })),
    architecture: { type: 'hard-sharing', sharedLayers: o.shared, headLayers: [], activation: 'relu' },
    lossWeighting: { strategy },
    training: { epochs: o.epochs, batchSize: o.batch, learningRate: 1e-3, validationSplit: 0, earlyStopping: false, affinity: o.affinity, seed: 42 },
  };
}

/**
 * --weighting: one training per strategy and round on the same rows, static first; the step's wall
 * time (epochs after the first) and CPU time per step, each relative to static's in this run.
 */
async function compareWeightings(o: Options, kinds: TaskType[], rows: RowSource, summary: Parameters<typeof resolveSpec>[1], backend: string): Promise<void> {
  const asked = o.weighting === 'all' ? LOSS_WEIGHTING_STRATEGIES : (o.weighting!.split(',') as LossWeightingStrategy[]);
  const unknown = asked.filter((s) => !LOSS_WEIGHTING_STRATEGIES.includes(s));
  if (unknown.length > 0) throw new Error(`unknown strategy ${unknown.join(', ')}; one of ${LOSS_WEIGHTING_STRATEGIES.join(', ')} or all`);
  const strategies = ['static' as const, ...asked.filter((s) => s !== 'static')];
  const runs = new Map<string, { ms: number[]; cpuMs: number[]; leaked: number; loss: number }>();
  for (let round = 0; round < (o.repeat ?? 1); round++) {
    for (const strategy of strategies) {
      const before = tf.memory().numTensors;
      const cpuAtEpoch: number[] = [];
      const trained = await trainOnRows(resolveSpec(benchSpec(o, kinds, strategy), summary), rows, {
        onEpoch: () => {
          const cpu = process.cpuUsage();
          cpuAtEpoch.push((cpu.user + cpu.system) / 1000);
        },
      });
      const h = trained.result.history;
      const warm = h.length > 1 ? h.slice(1) : h;
      const steps = Math.ceil(trained.rows.train / o.batch);
      disposeModel(trained.model);
      const run = runs.get(strategy) ?? { ms: [], cpuMs: [], leaked: 0, loss: 0 };
      run.ms.push(warm.reduce((a, e) => a + e.durationMs, 0) / (warm.length * steps));
      if (cpuAtEpoch.length > 1) run.cpuMs.push((cpuAtEpoch.at(-1)! - cpuAtEpoch[0]) / ((cpuAtEpoch.length - 1) * steps));
      run.leaked = Math.max(run.leaked, tf.memory().numTensors - before);
      run.loss = h.at(-1)!.loss;
      runs.set(strategy, run);
    }
  }
  const base = runs.get('static')!;
  const table = strategies.map((strategy) => {
    const r = runs.get(strategy)!;
    const ms = median(r.ms);
    const cpuMs = median(r.cpuMs);
    return {
      strategy,
      msPerStep: roundTo(ms, 3),
      timesStatic: roundTo(ms / median(base.ms), 2),
      cpuMsPerStep: roundTo(cpuMs, 3),
      cpuTimesStatic: roundTo(cpuMs / median(base.cpuMs), 2),
      tensorsLeaked: r.leaked,
      lastEpochLoss: roundTo(r.loss, 4),
    };
  });
  const head = { engine: 'mtl-service', backend, n: o.n, batch: o.batch, epochs: o.epochs, tasks: o.tasks, shared: o.shared, repeat: o.repeat ?? 1 };
  if (o.json) {
    console.log(JSON.stringify({ ...head, weightings: table }));
    return;
  }
  console.log(`loss weighting step cost: ${JSON.stringify(head)}`);
  console.log(`${'strategy'.padEnd(12)} ${'ms/step'.padStart(9)} ${'× static'.padStart(9)} ${'cpu ms/step'.padStart(12)} ${'× static'.padStart(9)}  leaked`);
  for (const r of table) {
    console.log(`${r.strategy.padEnd(12)} ${r.msPerStep.toFixed(2).padStart(9)} ${r.timesStatic.toFixed(2).padStart(9)} ${r.cpuMsPerStep.toFixed(2).padStart(12)} ${r.cpuTimesStatic.toFixed(2).padStart(9)}  ${r.tensorsLeaked}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
