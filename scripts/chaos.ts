/**
 * `npm run chaos`: the service under faults, as real processes on this machine (loopback only).
 *
 * Starts its own Redis (a redis-server on a free port, AOF on, files in a temp dir), the API and two
 * workers on a temp DATA_DIR, uploads examples/digits.csv, then runs the fault set:
 *   - kill -9 of a worker mid-epoch, and SIGTERM of a worker mid-epoch: the job must still succeed
 *     (the other worker resumes it from its checkpoint); a fresh worker replaces the one stopped;
 *   - a Redis restart (shutdown, down for --redis-down-s seconds, started again on the same port and
 *     dir) under running and queued jobs: they must all succeed;
 *   - SIGTERM of the API under predict load, then the API started again;
 *   - cancel mid-epoch on a slow spec (long epochs), --cancel-tries times: seconds from the POST to
 *     state `cancelled`; no model may be saved;
 *   - at least 200 hostile requests (scripts/chaos/hostile-inputs.ts).
 * Every request is tallied; the run prints one table (requests, 5xx, error responses that are not
 * application/problem+json, stalled requests: no answer within 10 s, connection errors, jobs lost)
 * and the cancel times, then what went wrong, one line per kind. Exit code 0 when all are zero and
 * every cancel took under 2 s. Not part of `npm test`; takes a few minutes.
 *
 * Options: --redis-down-s N (default 8; 5–20 makes sense), --cancel-tries N (default 3),
 * --keep (keep the temp dir with every process's log; it is kept anyway when something failed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedisServer, type RedisEndpoint } from '../src/queue/local-redis.js';
import { hostileCases } from './chaos/hostile-inputs.js';
import { rawRequest } from './chaos/raw-http.js';

const { values: args } = parseArgs({
  options: {
    'redis-down-s': { type: 'string', default: '8' },
    'cancel-tries': { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const REDIS_DOWN_MS = Number(args['redis-down-s']) * 1000;
const CANCEL_TRIES = Number(args['cancel-tries']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEADLINE = Date.now() + 9 * 60_000;
const STALL_MS = 10_000;
const ADMIN_KEY = 'chaos-admin-key-0001';
const PREDICT_KEY = 'chaos-predict-key-0001';
const PREDICT_MAX_BYTES = 1024 * 1024;
const DATASET_MAX_BYTES = 1024 * 1024;

const runDir = mkdtempSync(join(tmpdir(), 'mtl-chaos-'));
const dataDir = join(runDir, 'data');
const redisDir = join(runDir, 'redis');
const logDir = join(runDir, 'logs');
mkdirSync(logDir, { recursive: true });

// ---------------------------------------------------------------------------------------------
// Tallies

interface Tally {
  requests: number;
  fiveXX: number;
  notProblem: number;
  stalled: number;
  connErrors: number;
  jobsLost: number;
  /** Not counted as failures: 503 problem+json while Redis was down, refusals while the API was down. */
  expected503: number;
  refusedWhileDown: number;
}
const PHASES = ['setup', 'kill -9 worker', 'SIGTERM worker', 'Redis restart', 'API restart + predict load', 'cancel mid-epoch', 'hostile input'] as const;
type Phase = (typeof PHASES)[number];
const tallies = new Map<Phase, Tally>(PHASES.map((p) => [p, { requests: 0, fiveXX: 0, notProblem: 0, stalled: 0, connErrors: 0, jobsLost: 0, expected503: 0, refusedWhileDown: 0 }]));
let phase: Phase = 'setup';
const findings = new Map<string, { count: number; examples: string[] }>();
const cancelSeconds: number[] = [];
const notes: string[] = [];
let redisDown = false;
let apiDown = false;
/** When the API got its SIGTERM: a request that fails says how long before or after it was sent. */
let apiSigtermAt: number | undefined;

function finding(what: string, example: string) {
  const key = `[${phase}] ${what}`;
  const f = findings.get(key) ?? { count: 0, examples: [] };
  f.count++;
  if (f.examples.length < 3 && !f.examples.includes(example)) f.examples.push(example);
  findings.set(key, f);
}

interface Outcome {
  method: string;
  path: string;
  label?: string;
  outcome: 'answered' | 'stalled' | 'reset' | 'closed' | 'refused';
  status?: number;
  contentType?: string;
  body?: string;
}

function isProblem(o: Outcome): boolean {
  if (!o.contentType?.toLowerCase().startsWith('application/problem+json')) return false;
  try {
    const b = JSON.parse(o.body ?? '') as { type?: unknown; title?: unknown; status?: unknown };
    return typeof b.type === 'string' && typeof b.title === 'string' && b.status === o.status;
  } catch {
    return false;
  }
}

function record(o: Outcome) {
  const t = tallies.get(phase)!;
  t.requests++;
  const what = o.label ?? `${o.method} ${o.path.slice(0, 70)}`;
  if (o.outcome === 'stalled') {
    t.stalled++;
    return finding(`no answer within ${STALL_MS / 1000} s`, what);
  }
  if (o.outcome !== 'answered') {
    if (apiDown && o.outcome === 'refused') return void t.refusedWhileDown++;
    t.connErrors++;
    return finding(`connection ${o.outcome} without an answer`, what);
  }
  const status = o.status ?? 0;
  const problem = isProblem(o);
  if (status >= 500) {
    if (status === 503 && redisDown && problem) t.expected503++;
    else {
      t.fiveXX++;
      finding(`${status}${problem ? '' : ` (${o.contentType ?? 'no content type'})`}`, `${what} → ${(o.body ?? '').slice(0, 120)}`);
    }
  }
  if (status >= 400 && !problem) {
    t.notProblem++;
    if (status < 500) finding(`${status} not problem+json (${o.contentType ?? 'no content type'})`, `${what} → ${(o.body ?? '').slice(0, 120)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

let apiPort = 0;
const base = () => `http://127.0.0.1:${apiPort}`;

interface ApiOptions {
  body?: unknown;
  raw?: string;
  type?: string;
  key?: string | null;
}

/** One request through fetch (keep-alive, as a client would), tallied in the current phase. */
async function api(method: string, path: string, opts: ApiOptions = {}): Promise<{ status: number; json: any } | undefined> {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? ADMIN_KEY}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const sentAt = Date.now();
  try {
    const res = await fetch(base() + path, { method, headers, body, signal: AbortSignal.timeout(STALL_MS) });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? undefined;
    record({ method, path, outcome: 'answered', status: res.status, contentType, body: text });
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, json };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const outcome = e.name === 'TimeoutError' ? 'stalled' : e.cause?.code === 'ECONNREFUSED' ? 'refused' : 'reset';
    const when = apiSigtermAt === undefined ? '' : `, sent ${sentAt - apiSigtermAt} ms after the API's SIGTERM`;
    record({ method, path, outcome, label: `${method} ${path.slice(0, 70)} (${e.cause?.code ?? e.cause?.message ?? e.message}${when})` });
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 300): Promise<T> {
  const until = Math.min(Date.now() + timeoutMs, DEADLINE);
  while (Date.now() < until) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

/** A service process (`node --import tsx <entry>`), in its own process group, its output in logs/<name>.log. */
class Service {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Jobs this (worker) process started, by id → when (its "job started" log lines). */
  readonly started = new Map<string, number>();
  private tail = '';
  private readonly log: WriteStream;

  constructor(readonly name: string, entry: string, env: Record<string, string>) {
    this.log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    this.child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
    let partial = '';
    const onData = (d: Buffer) => {
      this.log.write(d);
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        this.tail = (this.tail + line + '\n').slice(-20_000);
        if (!line.includes('"job started"')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; name?: string; jobId?: string; time?: number };
          if (entry.msg === 'job started' && entry.name === 'worker' && entry.jobId) this.started.set(entry.jobId, entry.time ?? Date.now());
        } catch {
          /* not a log line */
        }
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail;
  }

  signal(sig: NodeJS.Signals) {
    if (this.alive) process.kill(this.child.pid!, sig);
  }

  /** SIGTERM, then SIGKILL to its whole process group (training children included) after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.alive) {
      this.signal('SIGTERM');
      await Promise.race([this.exited, sleep(graceMs)]);
    }
    this.killGroup();
    await Promise.race([this.exited, sleep(2000)]);
    this.log.end();
  }

  killGroup() {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

let redis: RedisEndpoint;
let redisPort = 0;
let apiProc: Service;
const workers: Service[] = [];
let workerCount = 0;
const commonEnv = () => ({ REDIS_URL: redis.url, DATA_DIR: dataDir, QUEUE_PREFIX: 'chaos', LOG_LEVEL: 'info', API_KEYS: `${ADMIN_KEY}:admin,${PREDICT_KEY}:predict` });

async function startApi(): Promise<void> {
  apiProc = new Service(`api-${Date.now()}`, 'src/server.ts', {
    ...commonEnv(),
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    RATE_LIMIT_MAX: '1000000',
    PREDICT_MAX_BODY_BYTES: String(PREDICT_MAX_BYTES),
    PREDICT_MAX_ROWS: '1000',
    DATASET_MAX_BYTES: String(DATASET_MAX_BYTES),
    DATASET_MAX_COLUMNS: '200',
    JOB_ATTEMPTS: '3',
    // The hostile "body shorter than Content-Length" must get its 408 well inside the 10 s stall mark.
    BODY_IDLE_TIMEOUT_MS: '3000',
  });
  // Not tallied: nothing listens until it has started.
  await waitFor('the API to answer /health/live', async () => (await fetch(`${base()}/health/live`).catch(() => undefined))?.ok, 120_000, 250);
}

async function startWorker(): Promise<Service> {
  const w = new Service(`worker-${++workerCount}`, 'src/worker/main.ts', {
    ...commonEnv(),
    WORKER_LOCK_MS: '10000',
    WORKER_STALLED_INTERVAL_MS: '2000',
    WORKER_SHUTDOWN_GRACE_MS: '10000',
    CHECKPOINT_EVERY: '1',
  });
  workers.push(w);
  await waitFor(`${w.name} to start`, async () => w.output().includes('"worker started"'), 60_000, 200);
  return w;
}

/** The live worker that started the job last (from the workers' "job started" log lines). */
function runnerOf(jobId: string): Service | undefined {
  return workers.filter((w) => w.alive && w.started.has(jobId)).sort((a, b) => b.started.get(jobId)! - a.started.get(jobId)!)[0];
}

// ---------------------------------------------------------------------------------------------
// Jobs

let datasetId = '';
const PIXELS = Array.from({ length: 64 }, (_, i) => `p${i}`);
const spec = (epochs: number, extra: Record<string, unknown> = {}, architecture: Record<string, unknown> = { sharedLayers: [64] }) => ({
  datasetId,
  features: PIXELS.map((name) => ({ name })),
  tasks: [{ name: 'digit', type: 'classification' }, { name: 'parity', type: 'binary' }],
  architecture,
  training: { epochs, earlyStopping: false, ...extra },
});
/** Long epochs (batches of 2 through a 256×256 trunk): a cancel lands mid-epoch. */
const slowSpec = () => spec(50, { batchSize: 2 }, { sharedLayers: [256, 256] });

interface JobView {
  id: string;
  state: string;
  progress: { epoch: number };
  history: { epoch: number; durationMs: number }[];
  modelId: string | null;
  error: string | null;
}

async function submit(body: unknown): Promise<{ id: string; modelId: string }> {
  const res = await api('POST', '/v1/jobs', { body });
  if (res?.status !== 202) throw new Error(`POST /v1/jobs answered ${res?.status}: ${JSON.stringify(res?.json)}`);
  return res.json;
}

async function job(id: string): Promise<JobView | undefined> {
  const res = await api('GET', `/v1/jobs/${id}`);
  return res?.status === 200 ? res.json : undefined;
}

const FINAL = ['succeeded', 'failed', 'cancelled'];
const running = (id: string, epoch: number, timeoutMs = 120_000) =>
  waitFor(`job ${id} to run epoch ${epoch}`, async () => {
    const j = await job(id);
    return j?.state === 'running' && j.progress.epoch >= epoch && j;
  }, timeoutMs);

/** Waits for the job to end; anything but `succeeded` with every epoch once is a job lost. */
async function expectSuccess(id: string, epochs: number, timeoutMs = 240_000): Promise<JobView | undefined> {
  const done = await waitFor(`job ${id} to end`, async () => {
    const j = await job(id);
    return j && FINAL.includes(j.state) && j;
  }, timeoutMs, 500).catch(() => undefined);
  const epochsSeen = done?.history.map((h) => h.epoch).join(',');
  const complete = epochsSeen === Array.from({ length: epochs }, (_, i) => i + 1).join(',');
  if (done?.state !== 'succeeded') {
    tallies.get(phase)!.jobsLost++;
    finding('job lost', `job ${id}: ${done ? `${done.state} ${done.error ?? ''}, epochs ${epochsSeen}` : 'not finished in time'}`);
    return undefined;
  }
  if (!complete) finding('job succeeded with an incomplete history', `job ${id}: epochs ${epochsSeen} of ${epochs}`);
  return done;
}

// ---------------------------------------------------------------------------------------------
// The fault set

async function setup(): Promise<{ modelId?: string; smallDatasetId: string }> {
  redis = await startRedisServer({ dir: redisDir, persist: true });
  redisPort = Number(new URL(redis.url).port);
  apiPort = await freePort();
  await startApi();
  await Promise.all([startWorker(), startWorker()]);
  const upload = await api('POST', '/v1/datasets?name=digits', { raw: readFileSync(join(ROOT, 'examples/digits.csv'), 'utf8'), type: 'text/csv' });
  if (upload?.status !== 201) throw new Error(`upload answered ${upload?.status}`);
  datasetId = upload.json.id;
  const small = await api('POST', '/v1/datasets?name=small', { raw: 'x,y,label\n' + Array.from({ length: 30 }, (_, i) => `${i},${(i * 7) % 5},${i % 3 ? 'yes' : 'no'}`).join('\n') + '\n', type: 'text/csv' });
  return { smallDatasetId: small?.json?.id };
}

async function killWorkerMidEpoch(signal: 'SIGKILL' | 'SIGTERM'): Promise<string | undefined> {
  const epochs = 12;
  const { id, modelId } = await submit(spec(epochs));
  await running(id, 3);
  const runner = runnerOf(id);
  if (!runner) throw new Error(`no worker seems to run job ${id}`);
  runner.signal(signal);
  if (signal === 'SIGTERM') {
    const t0 = Date.now();
    await Promise.race([runner.exited, sleep(30_000)]);
    if (runner.alive) finding('worker did not exit after SIGTERM', runner.name);
    else notes.push(`SIGTERM: ${runner.name} exited after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  await startWorker(); // keep two
  const done = await expectSuccess(id, epochs);
  const logs = (await api('GET', `/v1/jobs/${id}/logs`))?.json?.logs?.join('\n') ?? '';
  const resumed = /resuming from the checkpoint of epoch (\d+)/.exec(logs)?.[1];
  notes.push(`${signal}: job ${id.slice(0, 8)} ${done ? 'succeeded' : 'LOST'}${resumed ? `, resumed from the checkpoint of epoch ${resumed}` : ', not resumed from a checkpoint'}`);
  return done ? modelId : undefined;
}

async function restartRedis(): Promise<void> {
  // Three jobs for two workers (one waits in the queue), with epochs long enough to be mid-training.
  const epochs = 8;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await submit(spec(epochs, { batchSize: 8 }))).id);
  const states = await waitFor('a job to be mid-training', async () => {
    const views = await Promise.all(ids.map(job));
    return views.some((v) => v?.state === 'running' && v.progress.epoch >= 1) && views.map((v) => `${v?.state}@${v?.progress.epoch}`);
  }, 120_000, 200);
  notes.push(`Redis stopped with the jobs at ${states.join(', ')} (state@epoch)`);
  redisDown = true;
  const downAt = Date.now();
  await redis.stop(); // SIGTERM: Redis writes its append-only file and exits
  while (Date.now() - downAt < REDIS_DOWN_MS) {
    await Promise.all(ids.map(job)); // 503 problem+json expected, at once
    await sleep(1000);
  }
  redis = await startRedisServer({ dir: redisDir, persist: true, port: redisPort });
  const backAt = Date.now();
  await waitFor('the API to reach Redis again', async () => (await job(ids[0])) !== undefined, 60_000, 250);
  redisDown = false;
  notes.push(`Redis down ${((backAt - downAt) / 1000).toFixed(1)} s; the API answered again ${((Date.now() - backAt) / 1000).toFixed(1)} s after it was back`);
  for (const id of ids) await expectSuccess(id, epochs);
}

async function restartApiUnderLoad(modelId: string): Promise<void> {
  const instance = Object.fromEntries(PIXELS.map((p, i) => [p, (i * 5) % 17]));
  const body = { instances: [instance, instance, instance, instance] };
  let loading = true;
  let ok = 0;
  const loop = async () => {
    while (loading && Date.now() < DEADLINE) {
      const res = await api('POST', `/v1/models/${modelId}/predict`, { body, key: PREDICT_KEY });
      if (res?.status === 200) ok++;
      await sleep(res ? 10 : 100);
    }
  };
  const loops = Array.from({ length: 6 }, loop);
  await sleep(3000);
  const before = ok;
  apiDown = true;
  const stopAt = Date.now();
  apiSigtermAt = stopAt;
  apiProc.signal('SIGTERM');
  await Promise.race([apiProc.exited, sleep(20_000)]);
  if (apiProc.alive) {
    finding('API did not exit within 20 s of SIGTERM', apiProc.name);
    await apiProc.stop(1000);
  }
  const exitedAfter = Date.now() - stopAt;
  await startApi();
  apiDown = false;
  const upAfter = Date.now() - stopAt;
  await sleep(3000);
  loading = false;
  await Promise.all(loops);
  apiSigtermAt = undefined;
  notes.push(`API: exited ${(exitedAfter / 1000).toFixed(1)} s after SIGTERM, answered again after ${(upAfter / 1000).toFixed(1)} s; ${ok} predictions answered 200 (${before} before the SIGTERM)`);
}

async function cancelMidEpoch(): Promise<void> {
  for (let i = 0; i < CANCEL_TRIES; i++) {
    const { id, modelId } = await submit(slowSpec());
    const first = await running(id, 1, 180_000);
    await sleep(first.history[0].durationMs / 3);
    const at = Date.now();
    const res = await api('POST', `/v1/jobs/${id}/cancel`);
    if (res?.status !== 202) finding('cancel refused', `${res?.status} ${JSON.stringify(res?.json)}`);
    const done = await waitFor(`job ${id} to end after cancel`, async () => {
      const j = await job(id);
      return j && j.state !== 'running' && j.state !== 'queued' && j;
    }, 30_000, 50).catch(() => undefined);
    const seconds = (Date.now() - at) / 1000;
    cancelSeconds.push(done?.state === 'cancelled' ? seconds : Infinity);
    if (done?.state !== 'cancelled') finding('cancel did not end the job as cancelled', `job ${id}: ${done?.state ?? 'still running after 30 s'}`);
    if (existsSync(join(dataDir, 'models', modelId))) finding('a cancelled job saved a model', `job ${id}`);
    if (existsSync(join(dataDir, 'checkpoints', `${id}.ckpt`))) finding('a cancelled job left its checkpoint', `job ${id}`);
    notes.push(`cancel ${i + 1}: epochs of ${(first.history[0].durationMs / 1000).toFixed(1)} s, cancelled ${seconds.toFixed(2)} s after the POST, in epoch ${(done?.progress.epoch ?? 0) + 1}`);
  }
}

async function hostileInput(ctx: { smallDatasetId: string; modelId: string; jobId: string }): Promise<void> {
  const cases = hostileCases({ port: apiPort, adminKey: ADMIN_KEY, predictKey: PREDICT_KEY, datasetId: ctx.smallDatasetId, modelId: ctx.modelId, jobId: ctx.jobId, predictMaxBytes: PREDICT_MAX_BYTES, datasetMaxBytes: DATASET_MAX_BYTES });
  const queue = [...cases];
  const accepted: string[] = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await rawRequest(apiPort, c.request, STALL_MS);
        const method = c.request.head.split(' ')[0];
        record({ method, path: '', label: `${c.kind}: ${c.label}`, outcome: r.outcome, status: r.status, contentType: r.headers['content-type'], body: r.body });
        if (r.status !== undefined && r.status < 300 && method === 'POST' && /\/v1\/(jobs|datasets)/.test(c.request.head.split(' ')[1] ?? '')) accepted.push(`${c.kind}: ${c.label} (${r.status})`);
      }
    }),
  );
  notes.push(`hostile input: ${cases.length} requests; ${accepted.length} POSTs accepted as valid (2xx)${accepted.length ? `: ${accepted.join('; ')}` : ''}`);
  // Jobs a hostile body got queued on the small dataset: cancel them, they are not part of the run.
  const list = await api('GET', '/v1/jobs');
  for (const j of (list?.json?.jobs ?? []) as { id: string; datasetId: string; state: string }[])
    if (j.datasetId === ctx.smallDatasetId && (j.state === 'queued' || j.state === 'running')) await api('POST', `/v1/jobs/${j.id}/cancel`);
}

// ---------------------------------------------------------------------------------------------
// Report

function report(startedAt: number): boolean {
  const cols = ['phase', 'requests', '5xx', 'non-problem+json errors', 'stalled (>10 s)', 'conn. errors', 'jobs lost'];
  const rows = PHASES.map((p) => {
    const t = tallies.get(p)!;
    return [p, t.requests, t.fiveXX, t.notProblem, t.stalled, t.connErrors, t.jobsLost].map(String);
  });
  const sum = (k: keyof Tally) => [...tallies.values()].reduce((a, t) => a + t[k], 0);
  rows.push(['total', sum('requests'), sum('fiveXX'), sum('notProblem'), sum('stalled'), sum('connErrors'), sum('jobsLost')].map(String));
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [line(cols), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...rows.map(line)];
  const cancels = cancelSeconds.map((s, i) => `try ${i + 1}: ${Number.isFinite(s) ? `${s.toFixed(2)} s` : 'never'}`).join(', ');
  out.push('', `seconds from cancel to cancelled: ${cancels || 'no try ran'}`);
  out.push(`not counted above (expected): ${sum('expected503')} × 503 problem+json while Redis was down; ${sum('refusedWhileDown')} connections refused while the API was down`);
  out.push(`took ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  console.log(out.join('\n'));
  if (notes.length > 0) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
  if (findings.size > 0) {
    console.log('\nwhat went wrong (count × kind: examples):');
    for (const [what, f] of findings) console.log(`- ${f.count} × ${what}: ${f.examples.join(' | ')}`);
  }
  const failures = sum('fiveXX') + sum('notProblem') + sum('stalled') + sum('connErrors') + sum('jobsLost') + findings.size;
  return failures === 0 && cancelSeconds.length === CANCEL_TRIES && cancelSeconds.every((s) => s < 2);
}

async function cleanUp(): Promise<void> {
  await Promise.all([...workers, ...(apiProc ? [apiProc] : [])].map((s) => s.stop(15_000)));
  await redis?.stop().catch(() => undefined);
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  console.log(`chaos run in ${runDir} (logs in ${logDir})`);
  let crashed: Error | undefined;
  let modelId: string | undefined;
  let jobId = '';
  try {
    const { smallDatasetId } = await setup();
    phase = 'kill -9 worker';
    modelId = await killWorkerMidEpoch('SIGKILL');
    phase = 'SIGTERM worker';
    modelId = (await killWorkerMidEpoch('SIGTERM')) ?? modelId;
    phase = 'Redis restart';
    await restartRedis();
    phase = 'API restart + predict load';
    if (modelId) await restartApiUnderLoad(modelId);
    else finding('skipped: no model to predict with', 'both fault jobs were lost');
    phase = 'cancel mid-epoch';
    await cancelMidEpoch();
    phase = 'hostile input';
    jobId = ((await api('GET', '/v1/jobs'))?.json?.jobs ?? []).find((j: { state: string }) => j.state === 'succeeded')?.id ?? '00000000-0000-4000-8000-000000000000';
    await hostileInput({ smallDatasetId, modelId: modelId ?? '00000000-0000-4000-8000-000000000000', jobId });
  } catch (err) {
    crashed = err as Error;
    finding('the run stopped early', crashed.message);
  } finally {
    await cleanUp();
  }
  const passed = report(startedAt);
  if (crashed) console.error(`\nthe run stopped early in phase '${phase}': ${crashed.stack}`);
  if (passed && !args.keep) rmSync(runDir, { recursive: true, force: true });
  else console.log(`\nlogs kept in ${logDir}`);
  return passed ? 0 : 1;
}

// A run never outlives its deadline by much, and never leaves its processes behind.
const hardStop = setTimeout(() => {
  console.error('chaos: over the time limit; stopping everything');
  for (const s of [...workers, ...(apiProc ? [apiProc] : [])]) s.killGroup();
  void redis?.stop().finally(() => process.exit(2));
}, DEADLINE - Date.now() + 30_000);
hardStop.unref();
process.once('SIGINT', () => {
  for (const s of [...workers, ...(apiProc ? [apiProc] : [])]) s.killGroup();
  void redis?.stop().finally(() => process.exit(130));
});

process.exitCode = await main();
