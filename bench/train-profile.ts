/**
 * Where a training step's time goes: runs the reference model through `trainOnRows` under
 * per-kernel wall-clock timers and prints kernel time per kernel name (and the slowest kernel/shape pairs).
 *
 *   npx tsx bench/train-profile.ts [--backend blas|wasm|cpu] [--n 2560] [--tasks 3] [--batch 256]
 *                                  [--architecture <type: see src/mtl/architectures/index.ts>] [--weighting <strategy>]
 *                                  [--binary] [--cascade esmm|aitm]
 *
 * --binary makes every task binary; --cascade too, and each task after the first depends on the
 * one before it (task1 on task0, …) in that mode.
 *
 * Kernel times are wall time around each kernel call (the CPU backends are synchronous; nested calls
 * count once), so the gap to the step time is tfjs's own bookkeeping (tape, tidy, tensor creation)
 * and JS glue. Evaluation kernels (per epoch) are included in the per-step kernel numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config.js';
import { selectBackend, type BackendPreference } from '../src/mtl/backend.js';
import { ColumnInference } from '../src/mtl/column-inference.js';
import { disposeModel, trainOnRows } from '../src/mtl/pipeline.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import type { ArchitectureType, LossWeightingStrategy, TaskType } from '../src/mtl/spec.js';
import type { Row } from '../src/mtl/values.js';
import { median } from './lib/stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const n = Number(opt('n', '2560'));
const batch = Number(opt('batch', '256'));
const tasks = Number(opt('tasks', '3'));
const inputs = Number(opt("inputs", "784"));
const shared = opt("shared", "256,128").split(",").map(Number);
const config = loadConfig();
const backend = await selectBackend(opt('backend', config.TF_BACKEND) as BackendPreference, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });

const cascade = opt('cascade', '') as '' | 'esmm' | 'aitm';
const KINDS: TaskType[] = cascade || args.includes('--binary') ? ['binary'] : ['classification', 'binary', 'regression'];
const kinds = Array.from({ length: tasks }, (_, i) => KINDS[i % KINDS.length]);
const rows: Row[] = Array.from({ length: n }, (_, r) => {
  const row: Row = {};
  for (let j = 0; j < inputs; j++) row[`f${j}`] = Math.sin(r * 7.1 + j * 1.3);
  kinds.forEach((k, t) => (row[`task${t}`] = k === 'classification' ? (r + t) % 10 : k === 'binary' ? (r + t) % 2 : Math.cos(r + t)));
  return row;
});
const inf = new ColumnInference(Object.keys(rows[0]));
rows.forEach((r) => inf.add(r));
const spec = resolveSpec(
  {
    datasetId: 'p',
    features: Array.from({ length: inputs }, (_, j) => ({ name: `f${j}` })),
    tasks: kinds.map((type, i) => ({ name: `task${i}`, type, ...(cascade && i > 0 ? { dependsOn: `task${i - 1}`, mode: cascade } : {}) })),
    architecture: ['mmoe', 'ple', 'dselect-k'].includes(opt('architecture', 'hard-sharing'))
      ? { type: opt('architecture', '') as ArchitectureType }
      : { type: opt('architecture', 'hard-sharing') as ArchitectureType, sharedLayers: shared },
    lossWeighting: { strategy: opt('weighting', 'static') as LossWeightingStrategy },
    training: { epochs: 2, batchSize: batch, validationSplit: 0, earlyStopping: false, affinity: false },
  },
  { id: 'p', name: 'p', rows: n, columns: inf.columns() },
);
// Kernel timing: every kernel of the running backend wrapped with a wall-clock timer (tf.profile's
// own bookkeeping would distort the small kernels).
const times = new Map<string, { ms: number; calls: number }>();
const shapes = new Map<string, number[]>();
let depth = 0;
for (const k of tf.getKernelsForBackend(tf.getBackend())) {
  const inner = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, k.backendName);
  tf.registerKernel({
    ...k,
    kernelFunc: ((a: Parameters<tf.KernelFunc>[0]) => {
      if (depth > 0) return inner(a);
      depth++;
      const t0 = performance.now();
      try {
        return inner(a);
      } finally {
        depth--;
        const ms = performance.now() - t0;
        const e = times.get(k.kernelName) ?? { ms: 0, calls: 0 };
        e.ms += ms;
        e.calls++;
        times.set(k.kernelName, e);
        const key = `${k.kernelName} ${Object.values(a.inputs).map((t) => (t ? JSON.stringify((t as tf.TensorInfo).shape) : '-')).join(' ')} ${a.attrs ? JSON.stringify(a.attrs).slice(0, 60) : ''}`;
        const f = shapes.get(key) ?? [];
        f.push(ms);
        shapes.set(key, f);
      }
    }) as tf.KernelFunc,
  });
}
// Warm up (first epoch allocates), then time one epoch.
disposeModel((await trainOnRows({ ...spec, training: { ...spec.training, epochs: 1 } }, rows, { fused: config.MTL_FUSED })).model);
times.clear();
shapes.clear();
const t = await trainOnRows({ ...spec, training: { ...spec.training, epochs: 1 } }, rows, { fused: config.MTL_FUSED });
const steps = Math.ceil(n / batch);
const stepMs = t.result.history[0].durationMs / steps;
disposeModel(t.model);
const total = [...times.values()].reduce((s, v) => s + v.ms, 0);
const calls = [...times.values()].reduce((s, v) => s + v.calls, 0);
console.log(`backend ${backend.name} (${backend.detail})`);
// Medians per kernel/shape: robust to the preemptions and GC pauses of a shared machine.
const robust = [...shapes].map(([key, v]) => ({ key, calls: v.length / steps, ms: (median(v) * v.length) / steps }));
const robustTotal = robust.reduce((s, r) => s + r.ms, 0);
console.log(`${steps} steps: step ${stepMs.toFixed(2)} ms; kernel time ${(total / steps).toFixed(2)} ms/step (sum of medians ${robustTotal.toFixed(2)}), incl. per-epoch evaluation; ${(calls / steps).toFixed(0)} kernel calls/step`);
for (const [name, v] of [...times].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
  console.log(`${(v.ms / steps).toFixed(3).padStart(9)} ms/step ${(v.calls / steps).toFixed(1).padStart(7)} calls/step  ${name}`);
console.log('--- kernel/shape pairs by median time × calls');
for (const r of robust.sort((a, b) => b.ms - a.ms).slice(0, 30))
  console.log(`${r.ms.toFixed(3).padStart(9)} ms/step ${r.calls.toFixed(1).padStart(7)} calls/step  ${r.key}`);
