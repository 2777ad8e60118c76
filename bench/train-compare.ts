/**
 * Side-by-side training benchmark: the PyTorch peer (../shared/bench/torch_peer.py) and our engine
 * (bench/train.ts) on the same reference workload, interleaved in one run, repeated, with medians
 * and per-repeat ratios (each ratio divides numbers measured back to back, so a busy machine
 * slows both sides of it).
 *
 *   npm run bench:train:compare -- [--repeats 3] [--n 20000] [--epochs 3] [--batch 256]
 *       [--backends blas,wasm] [--tasks 3] [--affinity-cost] [--peer ../shared/bench/torch_peer.py]
 *       [--peer-threads 1] [--json]
 *
 * A backend may carry environment settings for its runs: `--backends blas,blas@MTL_BLAS_THREADS=2`.
 * `--tasks-curve 1,10,100` instead times our engine alone with that many heads (cost per step).
 * The peer always has 3 heads, so `--tasks` other than 3 is refused unless --tasks-curve is given.
 *
 * --affinity-cost also runs our engine with task affinity on (the service's default), to show what
 * it costs. Needs /usr/bin/python3 with torch (Debian: apt-get install python3-torch
 * libopenblas0-pthread).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, roundTo } from './lib/stats.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const flag = (name: string) => argv.includes(`--${name}`);

const repeats = Number(opt('repeats', '3'));
const common = ['--n', opt('n', '20000'), '--epochs', opt('epochs', '3'), '--batch', opt('batch', '256')];
const backends = opt('backends', 'blas,wasm').split(',').filter(Boolean);
const tasks = opt('tasks', '3');
const curve = opt('tasks-curve', '');
if (Number(tasks) !== 3 && !curve) {
  throw new Error(`--tasks ${tasks}: the PyTorch peer always trains 3 heads, so a side-by-side run needs --tasks 3 (use --tasks-curve for other head counts, ours alone)`);
}
const peerPath = resolve(repo, opt('peer', process.env.TORCH_PEER ?? join('..', 'shared', 'bench', 'torch_peer.py')));
const python = process.env.PYTHON ?? '/usr/bin/python3';
const json = flag('json');

interface Run {
  trainSamplesPerSec: number;
  predictSamplesPerSec: number;
  [k: string]: unknown;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd = repo): Run {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = (r.stdout ?? '').split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return JSON.parse(line) as Run;
}

const peer = () => run(python, [peerPath, ...common, '--threads', opt('peer-threads', '1')]);
/**
 * `blas`, or `blas@MTL_BLAS_THREADS=2@MTL_FUSED=0`: a backend with environment settings for its run;
 * `@CHECKOUT=<dir>` runs that checkout's bench/train.ts instead (an older commit, via git worktree).
 */
const ours = (spec: string, affinity = false, taskCount = tasks) => {
  const [backend, ...settings] = spec.split('@');
  const pairs = settings.map((kv) => kv.split('=') as [string, string]);
  const checkout = pairs.find(([k]) => k === 'CHECKOUT')?.[1] ?? repo;
  const env = { ...process.env, ...Object.fromEntries(pairs.filter(([k]) => k !== 'CHECKOUT')) };
  return run(process.execPath, ['--import', 'tsx', join(resolve(checkout), 'bench', 'train.ts'), '--json', ...common, '--tasks', taskCount, '--backend', backend, ...(affinity ? ['--affinity'] : [])], env, resolve(checkout));
};

if (curve) {
  // Cost per step against the number of heads (ours only: the peer has three), interleaved repeats.
  const counts = curve.split(',').map(Number);
  const backend = backends[0];
  const runs = new Map<number, Run[]>(counts.map((c) => [c, []]));
  for (let r = 0; r < repeats; r++) {
    for (const c of r % 2 === 0 ? counts : [...counts].reverse()) {
      const res = ours(backend, false, String(c));
      runs.get(c)!.push(res);
      if (!json) console.error(`repeat ${r + 1}/${repeats} ${c} tasks: ${Math.round(res.trainSamplesPerSec)} samples/s, ${res.msPerStep} ms/step`);
    }
  }
  const rows = counts.map((c) => ({ tasks: c, trainSamplesPerSec: Math.round(median(runs.get(c)!.map((x) => x.trainSamplesPerSec))), msPerStep: median(runs.get(c)!.map((x) => Number(x.msPerStep))) }));
  if (json) console.log(JSON.stringify({ backend, repeats, curve: rows }));
  else {
    console.log(`\nheads vs cost per step (${backend}, n=${common[1]}, batch ${common[5]}; medians of ${repeats})`);
    console.log('| tasks (heads) | train samples/s | ms per step | × the 1st row |');
    console.log('| ---: | ---: | ---: | ---: |');
    for (const r of rows) console.log(`| ${r.tasks} | ${r.trainSamplesPerSec.toLocaleString('en')} | ${r.msPerStep.toFixed(1)} | ${(r.msPerStep / rows[0].msPerStep).toFixed(1)} |`);
  }
  process.exit(0);
}

if (!existsSync(peerPath)) throw new Error(`PyTorch peer not found at ${peerPath} (--peer <path>)`);
const variants: { label: string; go: () => Run }[] = [
  { label: 'pytorch', go: peer },
  ...backends.map((b) => ({ label: b, go: () => ours(b) })),
  ...(flag('affinity-cost') ? [{ label: `${backends[0]}+affinity`, go: () => ours(backends[0], true) }] : []),
];

const results: Record<string, Run[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
for (let r = 0; r < repeats; r++) {
  // Alternate the order each repeat so neither side always runs first.
  const order = r % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const res = v.go();
    results[v.label].push(res);
    if (!json) console.error(`repeat ${r + 1}/${repeats} ${v.label}: train ${Math.round(res.trainSamplesPerSec)} samples/s, predict ${Math.round(res.predictSamplesPerSec)} rows/s`);
  }
}

const peerRuns = results.pytorch;
const summary = variants.map((v) => {
  const runs = results[v.label];
  const trainRatios = runs.map((x, i) => x.trainSamplesPerSec / peerRuns[i].trainSamplesPerSec);
  const predictRatios = runs.map((x, i) => x.predictSamplesPerSec / peerRuns[i].predictSamplesPerSec);
  return {
    engine: v.label,
    trainSamplesPerSec: Math.round(median(runs.map((x) => x.trainSamplesPerSec))),
    predictSamplesPerSec: Math.round(median(runs.map((x) => x.predictSamplesPerSec))),
    trainRatio: roundTo(median(trainRatios), 3),
    predictRatio: roundTo(median(predictRatios), 3),
    trainRuns: runs.map((x) => Math.round(x.trainSamplesPerSec)),
    predictRuns: runs.map((x) => Math.round(x.predictSamplesPerSec)),
    trainRatios: trainRatios.map((x) => roundTo(x, 3)),
    peakRssMiB: median(runs.map((x) => Number(x.peakRssMiB ?? 0))) || undefined,
  };
});

if (json) {
  console.log(JSON.stringify({ repeats, n: Number(common[1]), epochs: Number(common[3]), batch: Number(common[5]), tasks: Number(tasks), peer: peerRuns[0], results: summary }));
} else {
  console.log(`\nreference model, n=${common[1]}, ${common[3]} epochs, batch ${common[5]}, ${tasks} tasks; ${repeats} interleaved repeats; medians (ratio: median of per-repeat ours/peer)`);
  console.log('| engine | train samples/s | × peer | predict rows/s | × peer | peak RSS MiB | runs (train) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of summary) {
    console.log(`| ${s.engine} | ${s.trainSamplesPerSec.toLocaleString('en')} | ${s.trainRatio.toFixed(2)} | ${s.predictSamplesPerSec.toLocaleString('en')} | ${s.predictRatio.toFixed(2)} | ${s.peakRssMiB ?? ''} | ${s.trainRuns.join(', ')} |`);
  }
}
