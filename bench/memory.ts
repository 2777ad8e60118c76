/**
 * Memory benchmark: a large dataset through the worker's path. Generates an N × 784 NDJSON file,
 * then uploads it to a DatasetStore in a temporary directory (a file stream, as POST /v1/datasets
 * receives a request stream; `uploadSeconds` times this upload alone, not the generation), then, in a child
 * process of its own (as the worker's sandboxed trainer), trains `--jobs` jobs on it one after
 * another: rows streamed from the store (`rowSource`), encoded once to float32, trained, disposed.
 *
 *   npm run bench:memory -- [--n 100000] [--epochs 2] [--jobs 2] [--json]
 *
 * Prints peak RSS against the size of one float32 copy of the encoded dataset, and per epoch of
 * each job the RSS, JS heap and tensor count (they must stay flat within a job and across jobs);
 * per job, `peakRssSoFarMiB` is the process's peak RSS up to the end of that job (maxRSS, so
 * cumulative: it includes the jobs before). The backend is TF_BACKEND's (training order; default auto).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config.js';
import { selectBackend } from '../src/mtl/backend.js';
import { disposeModel, trainOnRows } from '../src/mtl/pipeline.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import { DatasetStore } from '../src/store/dataset-store.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const n = opt('n', 100_000);
const epochs = opt('epochs', 2);
const jobs = opt('jobs', 2);
const json = argv.includes('--json');
const INPUTS = 784;
const MiB = 2 ** 20;
const rssMiB = () => Math.round(process.memoryUsage().rss / MiB);
const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** MNIST-shaped rows: 784 integer "pixels" 0–255; a digit, its parity and a score from a fixed linear teacher. */
async function* ndjsonRows(): AsyncGenerator<string> {
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const teacher = Float64Array.from({ length: INPUTS * 10 }, () => u() - 0.5);
  const px = new Array<number>(INPUTS);
  for (let r = 0; r < n; r++) {
    const row: Record<string, number | string> = {};
    for (let j = 0; j < INPUTS; j++) row[`p${j}`] = px[j] = Math.floor(u() * 256);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < 10; c++) {
      let t = 0;
      for (let j = 0; j < INPUTS; j++) t += px[j] * teacher[j * 10 + c];
      if (t > bestScore) [best, bestScore] = [c, t];
    }
    row.digit = best;
    row.parity = best % 2 === 0 ? 'even' : 'odd';
    row.score = bestScore / 100;
    yield JSON.stringify(row) + '\n';
  }
}

/** The child: trains on the stored dataset and prints one JSON line. */
async function train(dir: string, id: string) {
  const config = loadConfig();
  const backend = await selectBackend(config.TF_BACKEND, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
  const store = new DatasetStore(dir);
  const info = await store.get(id);
  globalThis.gc?.();
  const baselineRssMiB = rssMiB();
  const spec = resolveSpec(
    {
      datasetId: info.id,
      tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }, { name: 'score', type: 'regression' }],
      architecture: { type: 'hard-sharing', sharedLayers: [256, 128] },
      training: { epochs, batchSize: 256, validationSplit: 0.1, earlyStopping: false, affinity: false, seed: 1 },
    },
    info,
  );
  const perJob = [];
  for (let j = 0; j < jobs; j++) {
    const started = Date.now();
    const epochsSeen: { rssMiB: number; heapMiB: number; tensors: number; samplesPerSec: number }[] = [];
    const { source } = await store.rowSource(info.id);
    const trained = await trainOnRows(spec, source, {
      fused: config.MTL_FUSED,
      onEpoch: (e) => void epochsSeen.push({ rssMiB: rssMiB(), heapMiB: Math.round(process.memoryUsage().heapUsed / MiB), tensors: tf.memory().numTensors, samplesPerSec: Math.round(e.samplesPerSec) }),
    });
    const float32CopyMiB = Math.round(((trained.rows.train + trained.rows.validation) * trained.preprocessing.inputSize * 4) / MiB);
    const metrics = trained.result.validationMetrics;
    disposeModel(trained.model);
    perJob.push({ job: j + 1, seconds: (Date.now() - started) / 1000, float32CopyMiB, peakRssSoFarMiB: peakMiB(), epochs: epochsSeen, tensorsAfter: tf.memory().numTensors, validationMetrics: metrics });
  }
  const copy = perJob[0].float32CopyMiB;
  const peak = peakMiB();
  return {
    backend: backend.name,
    rows: info.rows,
    columns: info.columns.length,
    baselineRssMiB,
    float32CopyMiB: copy,
    peakRssMiB: peak,
    // RSS that training added to the process, in float32 copies of the dataset.
    copiesHeld: Math.round(((peak - baselineRssMiB) / copy) * 100) / 100,
    jobs: perJob,
  };
}

if (argv[0] === '--train') {
  console.log(JSON.stringify(await train(argv[1], argv[2])));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'mtl-bench-memory-'));
  try {
    // Generated first, so the upload timed below is the store's work on a stream (as the API's).
    const file = join(dir, 'large.ndjson');
    await pipeline(Readable.from(ndjsonRows()), createWriteStream(file));
    const store = new DatasetStore(join(dir, 'store'));
    const t0 = Date.now();
    const info = await store.create('large', 'ndjson', createReadStream(file), { maxBytes: 2 ** 40 });
    const uploadSeconds = (Date.now() - t0) / 1000;
    rmSync(file);
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--train', join(dir, 'store'), info.id, ...argv], { encoding: 'utf8', maxBuffer: 2 ** 26 });
    const line = child.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
    if (child.status !== 0 || !line) throw new Error(`training process failed (${child.status}): ${child.stderr.slice(-2000)}`);
    const result = { uploadSeconds, ...JSON.parse(line) };
    if (json) console.log(JSON.stringify(result));
    else console.dir(result, { depth: 5 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
