/**
 * Study benchmark: one worker process (as `npm run start:worker`), the API in this process, a
 * study on generated data; prints how long a trial waits between the moment it could start and
 * the moment it starts training, and trials per minute.
 *
 *   npm run bench:study -- [--rows 1000] [--cols 10] [--trials 12] [--min 1] [--max 3] [--json]
 *
 * Per trial job (reference job excluded): "ready" is when it was queued or, with one worker and
 * the jobs one after another, when the job before it finished, whichever is later; "training
 * start" is the timestamp of its `dataset opened` log line (written after the sandboxed child is
 * up, the backend chosen and the dataset opened, just before preprocessing and the first step).
 * Needs Redis (REDIS_URL or 127.0.0.1:6379).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createStores } from '../src/composition-root.js';
import { buildApp } from '../src/api/app.js';
import { createServices } from '../src/api/start-api.js';
import { createRng } from '../src/mtl/rng.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '1000' }, cols: { type: 'string', default: '10' }, trials: { type: 'string', default: '12' }, min: { type: 'string', default: '1' }, max: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
const rows = Number(args.rows);
const cols = Number(args.cols);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dataDir = mkdtempSync(join(tmpdir(), 'mtl-bench-study-'));
const prefix = `bench-study-${process.pid}`;
const env = { DATA_DIR: dataDir, QUEUE_PREFIX: prefix, REDIS_URL: redisUrl, LOG_LEVEL: 'silent', STUDY_POLL_MS: '50', MAX_EVENT_LOOP_DELAY_MS: '600000' };
const config = loadConfig(env);
const app = await buildApp(await createServices({ config, logger: pino({ level: 'silent' }), redisUrl, stores: createStores(config) }), { logger: false });
await app.ready();
const worker = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], { env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: 'ignore' });

try {
  const rand = createRng(1);
  const normal = () => rand() + rand() + rand() - 1.5;
  const header = [...Array.from({ length: cols }, (_, i) => `x${i}`), 'a', 'b', 'c'];
  const lines = [header.join(',')];
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: cols }, normal);
    const z = x.reduce((s, v, i) => s + (i % 3 === 0 ? v : -v / 2), 0);
    lines.push([...x.map((v) => v.toFixed(3)), Math.tanh(z).toFixed(3), z > 0 ? 1 : 0, (x[0] * x[1]).toFixed(3)].join(','));
  }
  const datasetId = (await app.inject({ method: 'POST', url: '/v1/datasets?name=bench', headers: { 'content-type': 'text/csv' }, payload: lines.join('\n') })).json().id;
  const started = Date.now();
  const res = await app.inject({
    method: 'POST',
    url: '/v1/studies',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'bench', datasetId, tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }, { name: 'c', type: 'regression' }], budget: { trials: Number(args.trials), maxMinutes: 30 }, search: { epochs: { min: Number(args.min), max: Number(args.max) } } }),
  });
  if (res.statusCode !== 202) throw new Error(res.body);
  const id = res.json().id;
  let study;
  for (;;) {
    study = (await app.inject({ url: `/v1/studies/${id}` })).json();
    if (['succeeded', 'failed', 'cancelled'].includes(study.state)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const wallMs = Date.now() - started;
  const queue = app.services.trainingQueue.queue;
  const jobIds: string[] = [study.referenceJob.jobId, ...study.trials.flatMap((t: { runs: { jobId: string }[] }) => t.runs.map((r) => r.jobId))];
  const jobs = (await Promise.all(jobIds.map((j) => queue.getJob(j)))).filter((j) => j !== undefined).sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
  const latencies: number[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    if (job.data.study?.trialId === 'reference') continue;
    const prevFinished = i > 0 ? (jobs[i - 1].finishedOn ?? 0) : 0;
    const ready = Math.max(job.timestamp, prevFinished);
    const { logs } = await queue.getJobLogs(job.id!);
    const line = logs.find((l) => l.includes('dataset opened'));
    if (!line) continue;
    latencies.push(Date.parse(line.slice(0, 24)) - ready);
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  const runs = jobIds.length - 1;
  const result = { state: study.state, rows, cols, trials: study.trials.length, runs, wallSeconds: Math.round(wallMs / 100) / 10, trialRunsPerMinute: Math.round((runs / (wallMs / 60000)) * 10) / 10, readyToTrainingStartMs: { median: q(0.5), p90: q(0.9), n: latencies.length }, best: study.best?.trialId, bestScore: study.best?.score };
  console.log(args.json ? JSON.stringify(result) : result);
} finally {
  worker.kill('SIGTERM');
  await app.services.trainingQueue.queue.obliterate({ force: true }).catch(() => undefined);
  await app.services.studyQueue.queue.obliterate({ force: true }).catch(() => undefined);
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
