import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * The README's quick-start curl block, run as a bash script from top to bottom against `npm start`
 * (a real process: API + one training worker). Only two things are rewritten: the address
 * (localhost:3000 → this test's free port) and /tmp/ (→ this test's own temp dir, so runs on one
 * machine do not share files). If the block breaks — a step reads a field that is not there yet,
 * a route changes — this test fails.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The fenced ```sh block of the README that uploads examples/digits.csv and predicts. */
export function quickStartBlock(readme: string): string {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes('examples/digits.csv') && b.includes('/predict'));
  if (!block) throw new Error('README.md has no ```sh block that uploads examples/digits.csv and predicts');
  return block;
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

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean }) {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

let redis: RedisEndpoint;
let service: ReturnType<typeof run> | undefined;
let port: number;
const prefix = uniquePrefix('quick-start');
const dir = mkdtempSync(join(tmpdir(), 'mtl-quick-start-'));

async function stopService(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  process.kill(-child.pid!, 'SIGTERM'); // npm → sh → tsx → node: the whole process group
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

before(async () => {
  redis = await testRedis();
  port = await freePort();
  // `npm start` itself, with the settings a user would put in the environment.
  service = run('npm', ['start'], {
    detached: true,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' },
  });
  const started = Date.now();
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
    if (up) break;
    if (service.child.exitCode !== null) throw new Error(`npm start exited (${service.child.exitCode}):\n${service.stderr()}`);
    if (Date.now() - started > 60_000) throw new Error(`npm start did not answer on port ${port} within 60 s:\n${service.stderr()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  if (service) await stopService(service.child, service.exited);
  await obliterateTrainingQueue(redis.url, prefix).catch(() => undefined);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the README's quick start, verbatim, against npm start", { timeout: 240_000 }, () => {
  it('uploads, trains until the job ends, reads the model and predicts every task', async () => {
    const block = quickStartBlock(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const script = block.replaceAll('localhost:3000', `127.0.0.1:${port}`).replaceAll('/tmp/', `${dir}/`);
    assert.notEqual(script, block, 'the block talks to localhost:3000 and keeps its files in /tmp/');
    const sh = run('bash', ['-e', '-o', 'pipefail', '-c', script], { env: process.env });
    const code = await sh.exited;
    const out = sh.stdout();
    assert.equal(code, 0, `the block exits 0\nstdout:\n${out}\nstderr:\n${sh.stderr()}`);

    const job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8'));
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    assert.equal(status.state, 'succeeded', `the job ended: ${JSON.stringify(status.error ?? status.state)}`);
    assert.equal(status.modelId, job.modelId, 'the 202 answer named the model the job made');
    assert.match(out, /\nsucceeded\n/, 'the block prints the final state');

    // Step 4 prints the model, step 5 the prediction (the last thing the block writes).
    assert.ok(out.includes(`"id":"${job.modelId}"`), 'step 4 shows the model');
    const prediction = JSON.parse(out.slice(out.lastIndexOf('{"modelId"')));
    assert.equal(prediction.modelId, job.modelId);
    assert.equal(prediction.predictions.length, 1);
    const p = prediction.predictions[0];
    assert.ok(Number.isInteger(p.digit.label) && p.digit.label >= 0 && p.digit.label <= 9, `digit: ${JSON.stringify(p.digit)}`);
    assert.ok(['even', 'odd'].includes(p.parity.label), `parity: ${JSON.stringify(p.parity)}`);
    assert.ok(Array.isArray(p.tags.labels), `tags: ${JSON.stringify(p.tags)}`);
    assert.equal(typeof p.value.value, 'number');
  });
});
