/**
 * `npm run bench:predict [-- --json] [--duration 5] [--repeats 3]`: the predict load benchmark.
 *
 * Trains a reference model with the engine on the bundled digits (the README's quick-start spec)
 * on the training backend, saves it with the model store, switches this process to the serving
 * backend the API selects (`selectBackend(TF_BACKEND, 'serving')`: wasm before blas under auto) for
 * the in-process rates and the correctness reference, starts the service twice as child processes on loopback ports
 * (micro-batching on, and off: PREDICT_MAX_DELAY_MS=0), and drives `POST /v1/models/:id/predict`
 * with autocannon (in this process, so client and server share the machine's cores) at 1, 16 and
 * 64 connections with 1- and 32-row requests, and the same rows through the Open Inference
 * Protocol's `POST /v2/models/:id/infer` (one FP32 tensor per feature) on both servers. Beside each
 * cell, in the same round, it measures the HTTP ceiling (a route of the same shape doing no model
 * work, present only in the benchmark's server) and, per round, the in-process `model.predict`
 * rows/s on the same model. Each cell is run
 * `--repeats` times, interleaved, and medians are reported; the event loop's longest pause comes
 * from perf_hooks in the server. Prints a table (stderr with --json) and, with --json, one JSON
 * line on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { selectBackend } from '../src/mtl/backend.js';
import { disposeModel, trainOnRows } from '../src/mtl/pipeline.js';
import { decodePredictions, encodeInstances, forwardPass, predictInstances } from '../src/mtl/predictor.js';
import { exportArtifacts, importArtifacts } from '../src/mtl/serialization.js';
import { resolveSpec } from '../src/mtl/spec-resolution.js';
import type { Row } from '../src/mtl/values.js';
import { resolveRedis } from '../src/queue/local-redis.js';
import { DatasetStore } from '../src/store/dataset-store.js';
import { newId } from '../src/shared/ids.js';
import { modelMetadataOf } from '../src/store/model-metadata.js';
import { ModelStore } from '../src/store/model-store.js';
import { median, percentileSorted, roundTo } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    connections: { type: 'string', default: '1,16,64' },
    rows: { type: 'string', default: '1,32' },
    epochs: { type: 'string', default: '10' },
    'v1-only': { type: 'boolean', default: false },
  },
});
const DURATION = Number(opts.duration);
/** The /v2 infer cells (off with --v1-only: Node 20's parseArgs has no --no-… negation). */
const V2 = !opts['v1-only'];
const REPEATS = Number(opts.repeats);
const CONNECTIONS = opts.connections!.split(',').map(Number);
const ROWS = opts.rows!.split(',').map(Number);
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);
const out = opts.json ? log : (line: string) => process.stdout.write(`${line}\n`);

const config = loadConfig();
const DIGITS_CSV = fileURLToPath(new URL('../examples/digits.csv', import.meta.url));
const SERVER = fileURLToPath(new URL('./predict-server.ts', import.meta.url));
const DELAY_ON = config.PREDICT_MAX_DELAY_MS > 0 ? config.PREDICT_MAX_DELAY_MS : 2;

// ---------------------------------------------------------------- reference model
// Trained on the training backend (as a worker would), then served on the serving backend (as the
// API process: src/api/start-api.ts selects with purpose 'serving', wasm before blas under auto).
const trainingBackend = await selectBackend(config.TF_BACKEND, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
const dir = mkdtempSync(join(tmpdir(), 'mtl-bench-predict-'));
const redis = await resolveRedis({ redisUrl: config.REDIS_URL, dir: join(dir, 'redis'), persist: false });
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const datasets = new DatasetStore(join(dir, 'datasets'));
const models = new ModelStore(join(dir, 'models'));
const dataset = await datasets.create('digits', 'csv', createReadStream(DIGITS_CSV), 1 << 30);
const { rows } = await datasets.readRows(dataset.id);
const PIXELS = Array.from({ length: 64 }, (_, i) => `p${i}`);
const spec = resolveSpec(
  {
    name: 'digits-mtl',
    datasetId: dataset.id,
    features: PIXELS.map((name) => ({ name, type: 'numeric' as const })),
    tasks: [
      { name: 'digit', type: 'classification' },
      { name: 'parity', type: 'binary' },
      { name: 'tags', type: 'multilabel' },
      { name: 'value', type: 'regression', weight: 0.5 },
    ],
    architecture: { type: 'hard-sharing', sharedLayers: [128, 64], headLayers: [32] },
    training: { epochs: Number(opts.epochs), batchSize: 64, learningRate: 0.001, validationSplit: 0.2, seed: 42 },
  },
  dataset,
);
log(`training the reference model (README quick-start spec, ${opts.epochs} epochs) on ${trainingBackend.name}`);
const trained = await trainOnRows(spec, rows, { fused: config.MTL_FUSED });
const saved = await models.save(modelMetadataOf({ id: newId(), jobId: 'bench', spec, trained, backend: trainingBackend.name }), await exportArtifacts(trained.model.serving));
disposeModel(trained.model);
const modelId = saved.id;
const prep = saved.preprocessing;
const instances: Row[] = rows.map((r) => Object.fromEntries(PIXELS.map((p) => [p, r[p]])));
log(`model ${modelId}: digit accuracy ${(saved.metrics.digit as { accuracy?: number }).accuracy?.toFixed(3)}, ${prep.inputSize} inputs, ${saved.tasks.length} heads`);

// ---------------------------------------------------------------- in-process limit
// The same backend as the servers: the in-process rates and the correctness reference below run on it.
const backend = await selectBackend(config.TF_BACKEND, 'serving', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
log(`serving backend (in this process and in the servers): ${backend.name}`);
const serving = await importArtifacts((await models.loadArtifacts(modelId)).artifacts);
const IN_PROCESS_BATCHES = [...new Set([1, ...ROWS, config.PREDICT_MAX_BATCH])].sort((a, b) => a - b);

/** rows/s of one forward pass (model.predict, every head read back) on `batch` encoded rows, for about `ms`. */
function inProcessRate(batch: number, ms = 1000, full = false): number {
  const some = instances.slice(0, batch);
  const x = encodeInstances(prep, some);
  for (let i = 0; i < 5; i++) forwardPass(serving, prep.inputSize, x, batch);
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (full) decodePredictions(prep, forwardPass(serving, prep.inputSize, encodeInstances(prep, some), batch), batch);
    else forwardPass(serving, prep.inputSize, x, batch);
    done += batch;
  }
  return done / ((performance.now() - start) / 1000);
}

// ---------------------------------------------------------------- servers
interface Server {
  name: 'on' | 'off';
  base: string;
}

async function startServer(name: Server['name'], delayMs: number): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      DATA_DIR: dir,
      QUEUE_PREFIX: `bench-predict-${process.pid}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      TF_BACKEND: config.TF_BACKEND,
      PREDICT_MAX_DELAY_MS: String(delayMs),
      BENCH_MODEL_ID: modelId,
      // The benchmark measures capacity: per-client rate limits and load shedding stay out of the way.
      RATE_LIMIT_MAX: '1000000000',
      MAX_EVENT_LOOP_DELAY_MS: '600000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server '${name}' exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.benchServer) resolve(msg.benchServer.port);
        else if (msg.level >= 40 && !/API_KEYS is not set/.test(msg.msg)) log(`server ${name}: ${msg.msg}`);
      } catch {
        log(`server ${name}: ${line}`);
      }
    });
  });
  return { name, base: `http://127.0.0.1:${port}` };
}

const getJson = async (url: string) => (await fetch(url)).json();

/** The same rows as an Open Inference Protocol v2 request: one FP32 tensor of shape [N] per feature. */
function v2Request(rows: Row[]) {
  return { inputs: PIXELS.map((name) => ({ name, shape: [rows.length], datatype: 'FP32', data: rows.map((r) => r[name]) })) };
}

/** Predictions as the v2 output tensors' data: probabilities [N, L] (binary [1 − p, p]), values [N, 1]. */
function asTensorData(predictions: ReturnType<typeof predictInstances>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const enc of prep.tasks) {
    out[enc.task] = predictions.flatMap((p) => {
      const answer = p[enc.task] as { value?: number; probabilities?: Record<string, number> };
      return enc.type === 'regression' ? [answer.value!] : enc.labels.map((l) => answer.probabilities![String(l)]);
    });
  }
  return out;
}
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const servers = [await startServer('on', DELAY_ON), await startServer('off', 0)];
log(`servers up: batching on (PREDICT_MAX_DELAY_MS=${DELAY_ON}, PREDICT_MAX_BATCH=${config.PREDICT_MAX_BATCH}) and off (PREDICT_MAX_DELAY_MS=0)`);

// Every response must match the prediction of the same rows made alone, also under concurrency.
// (Labels and keys exactly, numbers to float32 rounding: a BLAS matmul may round a row differently
// in a larger batch; wasm is bit-identical.)
let mismatches = 0;
let bitIdentical = 0;
let checked = 0;
for (const server of servers) {
  const requests = Array.from({ length: 64 }, (_, i) => instances.slice(i * 7, i * 7 + 1 + (i % 3)));
  const answers = await Promise.all(requests.map(async (some) => (await post(`${server.base}/v1/models/${modelId}/predict`, { instances: some })).json()));
  answers.forEach((a, i) => {
    const alone = predictInstances(serving, prep, requests[i]);
    checked++;
    if (isDeepStrictEqual(a.predictions, alone)) bitIdentical++;
    else if (!closeTo(a.predictions, alone)) mismatches++;
  });
}
log(`${checked} concurrent requests checked against in-process predictions of the same rows: ${mismatches} mismatches, ${bitIdentical} bit-identical`);

// The same check through /v2 infer: each output tensor against the same rows predicted alone.
const v2Check = { checked: 0, mismatches: 0, bitIdentical: 0 };
if (V2) {
  for (const server of servers) {
    const requests = Array.from({ length: 64 }, (_, i) => instances.slice(i * 7, i * 7 + 1 + (i % 3)));
    const answers = await Promise.all(requests.map(async (some) => (await post(`${server.base}/v2/models/${modelId}/infer`, v2Request(some))).json()));
    answers.forEach((a, i) => {
      const alone = asTensorData(predictInstances(serving, prep, requests[i]));
      const got = Object.fromEntries((a.outputs ?? []).map((o: { name: string; data: number[] }) => [o.name, o.data]));
      v2Check.checked++;
      if (isDeepStrictEqual(got, alone)) v2Check.bitIdentical++;
      else if (!closeTo(got, alone)) v2Check.mismatches++;
    });
  }
  log(`${v2Check.checked} concurrent /v2 infer requests checked the same way: ${v2Check.mismatches} mismatches, ${v2Check.bitIdentical} bit-identical`);
}

function closeTo(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  const keys = Object.keys(b);
  return JSON.stringify(Object.keys(a)) === JSON.stringify(keys) && keys.every((k) => closeTo((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ---------------------------------------------------------------- load
type Target = 'on' | 'off' | 'ceiling' | 'v2' | 'v2off';
const V1_TARGETS: Target[] = ['on', 'off', 'ceiling'];
const TARGETS: Target[] = V2 ? [...V1_TARGETS, 'v2', 'v2off'] : V1_TARGETS;
interface Sample {
  rowsPerSec: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** Event-loop delay in the server during the run (perf_hooks): p99 and max, ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  rowsPerPass?: number;
  longestPassMs?: number;
  /** Server CPU time (user + system) per row served, µs: less disturbed by other load on the machine than rows/s. */
  cpuUsPerRow: number;
}

async function load(target: Target, rowsPerRequest: number, connections: number, seconds: number): Promise<Sample> {
  const server = target === 'off' || target === 'v2off' ? servers[1] : servers[0];
  const path = target === 'ceiling' ? `/bench/ceiling/${modelId}/predict` : target.startsWith('v2') ? `/v2/models/${modelId}/infer` : `/v1/models/${modelId}/predict`;
  const rows = instances.slice(100, 100 + rowsPerRequest);
  const body = JSON.stringify(target.startsWith('v2') ? v2Request(rows) : { instances: rows });
  const batcherBefore = target === 'ceiling' ? undefined : await getJson(`${server.base}/bench/batcher/${modelId}`);
  await getJson(`${server.base}/bench/loop`); // start the pause measurement afresh
  const cpuBefore = await getJson(`${server.base}/bench/cpu`);
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url: server.base + path, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, timeout: 10 };
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    // Latencies to the microsecond (autocannon's own histogram counts whole milliseconds).
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) latencies.push(ms);
    });
  });
  const cpuAfter = await getJson(`${server.base}/bench/cpu`);
  const pause = await getJson(`${server.base}/bench/loop`);
  const batcherAfter = target === 'ceiling' ? undefined : await getJson(`${server.base}/bench/batcher/${modelId}`);
  const sorted = Float64Array.from(latencies).sort();
  const ok = result['2xx'];
  return {
    rowsPerSec: (ok * rowsPerRequest) / result.duration,
    reqPerSec: ok / result.duration,
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    // autocannon counts a timeout in `errors` as well as in `timeouts` (lib/run.js): not added twice.
    errors: result.errors + result.non2xx,
    loopP99Ms: pause.p99Ms,
    loopMaxMs: pause.maxMs,
    rowsPerPass: batcherAfter ? (batcherAfter.rows - batcherBefore.rows) / Math.max(1, batcherAfter.passes - batcherBefore.passes) : undefined,
    longestPassMs: batcherAfter?.longestPassMs,
    cpuUsPerRow: (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / Math.max(1, ok * rowsPerRequest),
  };
}

log('warming up');
for (const target of TARGETS) await load(target, 1, 16, 1);

const cells = ROWS.flatMap((r) => CONNECTIONS.flatMap((c) => TARGETS.map((target) => ({ rows: r, connections: c, target }))));
const samples = new Map<string, Sample[]>();
const inProcessSamples = new Map<number, number[]>();
const fullPathSamples: number[] = [];
const keyOf = (c: { rows: number; connections: number; target: Target }) => `${c.target}/${c.rows}/${c.connections}`;
for (let round = 1; round <= REPEATS; round++) {
  log(`round ${round}/${REPEATS}: in-process model.predict`);
  for (const b of IN_PROCESS_BATCHES) inProcessSamples.set(b, [...(inProcessSamples.get(b) ?? []), inProcessRate(b)]);
  fullPathSamples.push(inProcessRate(32, 1000, true));
  for (const cell of cells) {
    const s = await load(cell.target, cell.rows, cell.connections, DURATION);
    samples.set(keyOf(cell), [...(samples.get(keyOf(cell)) ?? []), s]);
    log(`round ${round}: ${cell.rows} row(s) × ${cell.connections} conn, ${cell.target}: ${Math.round(s.rowsPerSec)} rows/s, p99 ${s.p99.toFixed(1)} ms, ${s.errors} errors`);
  }
}

// The longest pause one request can cause: PREDICT_MAX_ROWS rows (parse, encode, passes of PREDICT_MAX_BATCH rows, decode, serialise).
await getJson(`${servers[0].base}/bench/loop`);
// The body is built and serialised before the timer starts: the time is the server's (and the transfer's).
const bigBody = JSON.stringify({ instances: Array.from({ length: config.PREDICT_MAX_ROWS }, (_, i) => instances[i % instances.length]) });
const bigStart = performance.now();
const big = await fetch(`${servers[0].base}/v1/models/${modelId}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bigBody });
await big.arrayBuffer();
const largestRequest = { rows: config.PREDICT_MAX_ROWS, status: big.status, ms: performance.now() - bigStart, maxPauseMs: (await getJson(`${servers[0].base}/bench/loop`)).maxMs };
await cleanup();

// ---------------------------------------------------------------- report
const summary = cells.map((cell) => {
  const ss = samples.get(keyOf(cell))!;
  const perPass = ss.map((s) => s.rowsPerPass).filter((v): v is number => v !== undefined);
  const passMs = ss.map((s) => s.longestPassMs).filter((v): v is number => v !== undefined);
  return {
    ...cell,
    rowsPerSec: Math.round(median(ss.map((s) => s.rowsPerSec))),
    reqPerSec: Math.round(median(ss.map((s) => s.reqPerSec))),
    p50Ms: roundTo(median(ss.map((s) => s.p50))),
    p99Ms: roundTo(median(ss.map((s) => s.p99))),
    errors: ss.reduce((n, s) => n + s.errors, 0),
    loopP99Ms: roundTo(median(ss.map((s) => s.loopP99Ms))),
    loopMaxMs: roundTo(Math.max(...ss.map((s) => s.loopMaxMs))),
    rowsPerPass: perPass.length ? roundTo(median(perPass)) : undefined,
    longestPassMs: passMs.length ? roundTo(Math.max(...passMs)) : undefined,
    cpuUsPerRow: roundTo(median(ss.map((s) => s.cpuUsPerRow)), 1),
    runs: ss.map((s) => Math.round(s.rowsPerSec)),
  };
});
const inProcess = Object.fromEntries(IN_PROCESS_BATCHES.map((b) => [b, Math.round(median(inProcessSamples.get(b)!))]));
const find = (target: Target, r: number, c: number) => summary.find((s) => s.target === target && s.rows === r && s.connections === c);
const maxC = Math.max(...CONNECTIONS);

/**
 * Ratios side by side within each round (`a`'s rows/s ÷ `b`'s, `b` a cell or an in-process batch
 * size measured in the same round); the reported ratio is their median (less noisy than a ratio of
 * medians), printed beside the per-round values.
 */
function roundRatios(a: string, b: string | number): number[] | undefined {
  const xs = samples.get(a);
  const ys = typeof b === 'number' ? inProcessSamples.get(b) : samples.get(b)?.map((y) => y.rowsPerSec);
  if (!xs || !ys) return undefined;
  return xs.map((x, i) => x.rowsPerSec / ys[i]);
}
const medianOf = (rs: number[] | undefined) => (rs ? roundTo(median(rs)) : undefined);

const has32 = ROWS.includes(32);
const ratioRounds = {
  onOff: roundRatios(`on/1/${maxC}`, `off/1/${maxC}`),
  onCeiling: roundRatios(`on/1/${maxC}`, `ceiling/1/${maxC}`),
  vsInProcess32: has32 ? roundRatios(`on/32/${maxC}`, 32) : undefined,
  vsInProcessMax: has32 ? roundRatios(`on/32/${maxC}`, config.PREDICT_MAX_BATCH) : undefined,
};
const onOff = medianOf(ratioRounds.onOff);
const onCeiling = medianOf(ratioRounds.onCeiling);
const vsInProcess32 = medianOf(ratioRounds.vsInProcess32);
const vsInProcessMax = medianOf(ratioRounds.vsInProcessMax);
const roundsShown = Object.fromEntries(Object.entries(ratioRounds).map(([k, v]) => [k, v?.map((x) => roundTo(x))])) as Record<keyof typeof ratioRounds, number[] | undefined>;
const served = summary.filter((s) => s.target === 'on' || s.target === 'off');
// The pause at the maximum batch: the batching-on cell whose passes were largest.
const fullest = served.filter((s) => s.target === 'on').sort((a, b) => (b.rowsPerPass ?? 0) - (a.rowsPerPass ?? 0))[0];
const maxBatchPause = {
  rows: fullest.rows,
  connections: fullest.connections,
  rowsPerPass: fullest.rowsPerPass,
  longestPassMs: fullest.longestPassMs,
  loopP99Ms: fullest.loopP99Ms,
  loopMaxMs: fullest.loopMaxMs,
  ceilingLoopP99Ms: find('ceiling', fullest.rows, fullest.connections)?.loopP99Ms,
  ceilingLoopMaxMs: find('ceiling', fullest.rows, fullest.connections)?.loopMaxMs,
};
const worstP99On = Math.max(...served.filter((s) => s.target === 'on').map((s) => s.p99Ms));
const worstP99Off = Math.max(...served.filter((s) => s.target === 'off').map((s) => s.p99Ms));
const errors = summary.reduce((n, s) => n + s.errors, 0) + mismatches + v2Check.mismatches;

// /v2 infer against /v1 predict at the same load: per-round ratios of rows/s, their median per cell.
const v2Cells = V2
  ? ROWS.flatMap((r) =>
      CONNECTIONS.map((c) => {
        const ratios = roundRatios(`v2/${r}/${c}`, `on/${r}/${c}`)!;
        const v2 = find('v2', r, c)!;
        const v1 = find('on', r, c)!;
        // Server CPU per row, v2 ÷ v1, per round then the median (as the throughput ratios).
        const cpu = samples.get(`v2/${r}/${c}`)!.map((s, i) => s.cpuUsPerRow / samples.get(`on/${r}/${c}`)![i].cpuUsPerRow);
        return {
          rows: r,
          connections: c,
          v2RowsPerSec: v2.rowsPerSec,
          v1RowsPerSec: v1.rowsPerSec,
          ratio: roundTo(median(ratios)),
          rounds: ratios.map((x) => roundTo(x)),
          v2P99Ms: v2.p99Ms,
          v1P99Ms: v1.p99Ms,
          v1CpuUsPerRow: v1.cpuUsPerRow,
          v2CpuUsPerRow: v2.cpuUsPerRow,
          cpuRatio: roundTo(median(cpu)),
        };
      }),
    )
  : [];
const v2OnOffRounds = V2 ? roundRatios(`v2/1/${maxC}`, `v2off/1/${maxC}`) : undefined;
const v2OnOff = medianOf(v2OnOffRounds);
const worstV2Ratio = v2Cells.length ? Math.min(...v2Cells.map((c) => c.ratio)) : undefined;
const targets = {
  batchingGain: { value: onOff, rounds: roundsShown.onOff, target: 3, met: onOff !== undefined && onOff >= 3, what: `1-row requests at ${maxC} connections: rows/s batching on ÷ off` },
  ofHttpCeiling: { value: onCeiling, rounds: roundsShown.onCeiling, target: 0.5, met: onCeiling !== undefined && onCeiling >= 0.5, what: `1-row requests at ${maxC} connections: rows/s batching on ÷ HTTP ceiling` },
  ofInProcess32: { value: vsInProcess32, rounds: roundsShown.vsInProcess32, target: 0.5, met: vsInProcess32 !== undefined && vsInProcess32 >= 0.5, what: `32-row requests at ${maxC} connections, batching on ÷ in-process model.predict on 32 rows` },
  p99: {
    value: worstP99On,
    target: 50,
    met: worstP99On < 50,
    what: 'worst p99 over every batching-on cell, ms',
    // Where it is missed: the same cell's HTTP ceiling, and Little's law (mean latency = connections ÷ requests/s).
    misses: served
      .filter((s) => s.target === 'on' && s.p99Ms >= 50)
      .map((s) => ({ rows: s.rows, connections: s.connections, p99Ms: s.p99Ms, ceilingP99Ms: find('ceiling', s.rows, s.connections)?.p99Ms, littleMeanMs: roundTo((s.connections / s.reqPerSec) * 1000) })),
  },
  errors: { value: errors, target: 0, met: errors === 0, what: 'errors, timeouts, non-2xx and mismatched predictions (/v1 and /v2) over every cell' },
  ...(V2
    ? {
        v2Throughput: {
          value: worstV2Ratio,
          target: 0.9,
          met: worstV2Ratio !== undefined && worstV2Ratio >= 0.9,
          what: '/v2 infer ÷ /v1 predict rows/s at the same load (batching on), the worst cell (median of per-round ratios)',
        },
        v2BatchingGain: {
          value: v2OnOff,
          rounds: v2OnOffRounds?.map((x) => roundTo(x)),
          target: onOff !== undefined ? roundTo(0.9 * onOff) : undefined,
          met: v2OnOff !== undefined && onOff !== undefined && v2OnOff >= 0.9 * onOff,
          what: `1-row requests at ${maxC} connections: /v2 rows/s batching on ÷ off, against 90% of /v1's gain (${onOff})`,
        },
      }
    : {}),
};
const report = {
  bench: 'predict',
  backend: backend.name,
  trainingBackend: trainingBackend.name,
  cpus: cpus().length,
  node: process.version,
  durationSec: DURATION,
  repeats: REPEATS,
  settings: { PREDICT_MAX_BATCH: config.PREDICT_MAX_BATCH, PREDICT_MAX_DELAY_MS: DELAY_ON, LOG_LEVEL: 'warn' },
  model: { id: modelId, tasks: saved.tasks.map((t) => t.name), inputs: prep.inputSize, architecture: saved.architecture },
  inProcessRowsPerSec: inProcess,
  inProcessFullPathRowsPerSec32: Math.round(median(fullPathSamples)),
  correctness: { checked, mismatches, bitIdentical, v2: v2Check },
  v2: { cells: v2Cells, onOff: v2OnOff, onOffRounds: v2OnOffRounds?.map((x) => roundTo(x)) },
  cells: summary,
  maxBatchPause,
  largestRequest: { ...largestRequest, ms: roundTo(largestRequest.ms), maxPauseMs: roundTo(largestRequest.maxPauseMs) },
  ratios: { onOff, onCeiling, vsInProcess32, vsInProcessMax, worstP99Off },
  ratioRounds: roundsShown,
  targets,
};

out('');
out(`predict load benchmark: ${backend.name} backend, ${cpus().length} cores, ${DURATION} s per cell, median of ${REPEATS} interleaved runs; autocannon in the same machine`);
out(`model: README quick-start spec (${prep.inputSize} inputs → ${(saved.architecture as { sharedLayers: number[] }).sharedLayers.join('→')} trunk, heads ${saved.tasks.map((t) => t.name).join(', ')})`);
out('');
out('| rows/request | connections | server | rows/s | requests/s | p50 ms | p99 ms | errors | rows per forward pass | longest forward pass ms | event-loop delay p99 / max ms | server CPU µs/row |');
out('| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const label: Record<Target, string> = { on: 'batching on', off: 'batching off', ceiling: 'HTTP ceiling (no model)', v2: '/v2 infer, batching on', v2off: '/v2 infer, batching off' };
for (const s of summary) {
  out(
    `| ${s.rows} | ${s.connections} | ${label[s.target]} | ${s.rowsPerSec} | ${s.reqPerSec} | ${s.p50Ms} | ${s.p99Ms} | ${s.errors} | ${s.rowsPerPass ?? '–'} | ${s.longestPassMs ?? '–'} | ${s.loopP99Ms} / ${s.loopMaxMs} | ${s.cpuUsPerRow} |`,
  );
}
out('');
out(`in-process model.predict rows/s: ${IN_PROCESS_BATCHES.map((b) => `${b} row${b > 1 ? 's' : ''}: ${inProcess[b]}`).join(', ')}; encode + predict + decode on 32 rows: ${report.inProcessFullPathRowsPerSec32}`);
out(
  `at the maximum batch (${maxBatchPause.rows}-row requests × ${maxBatchPause.connections} connections, ${maxBatchPause.rowsPerPass} rows per pass): longest forward pass ${maxBatchPause.longestPassMs} ms; ` +
    `event-loop delay p99 ${maxBatchPause.loopP99Ms} ms, max ${maxBatchPause.loopMaxMs} ms (HTTP ceiling at the same load: p99 ${maxBatchPause.ceilingLoopP99Ms}, max ${maxBatchPause.ceilingLoopMaxMs} ms)`,
);
out(`one ${largestRequest.rows}-row request: ${report.largestRequest.ms} ms, longest event-loop pause ${report.largestRequest.maxPauseMs} ms (status ${largestRequest.status})`);
out(`${checked} concurrent answers checked against the same rows predicted alone: ${mismatches} mismatches, ${bitIdentical} bit-identical`);
if (V2) {
  out(`${v2Check.checked} concurrent /v2 infer answers checked the same way: ${v2Check.mismatches} mismatches, ${v2Check.bitIdentical} bit-identical`);
  out('');
  out('| rows/request | connections | /v1 rows/s | /v2 rows/s | /v2 ÷ /v1 (median of rounds) | per round | /v1 p99 ms | /v2 p99 ms | server CPU µs/row /v1 | /v2 | /v2 ÷ /v1 |');
  out('| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of v2Cells)
    out(`| ${c.rows} | ${c.connections} | ${c.v1RowsPerSec} | ${c.v2RowsPerSec} | ${c.ratio} | ${c.rounds.join(', ')} | ${c.v1P99Ms} | ${c.v2P99Ms} | ${c.v1CpuUsPerRow} | ${c.v2CpuUsPerRow} | ${c.cpuRatio} |`);
}
out('');
for (const [name, t] of Object.entries(targets)) {
  const rounds = 'rounds' in t && t.rounds ? ` [per round: ${t.rounds.join(', ')}]` : '';
  out(`${t.met ? 'met   ' : 'MISSED'} ${name}: ${t.value}${rounds} (target ${name === 'p99' ? '<' : name === 'errors' ? '=' : '≥'} ${t.target}) — ${t.what}`);
}
for (const m of targets.p99.misses)
  out(`       p99 ${m.p99Ms} ms at ${m.rows} row(s) × ${m.connections} connections (HTTP ceiling there: ${m.ceilingP99Ms} ms; Little's law mean at this rate: ${m.littleMeanMs} ms)`);
if (vsInProcessMax !== undefined) out(`       32-row requests ÷ in-process at ${config.PREDICT_MAX_BATCH} rows (the model's own ceiling): ${vsInProcessMax} [per round: ${roundsShown.vsInProcessMax!.join(', ')}]`);
if (opts.json) process.stdout.write(JSON.stringify(report) + '\n');
