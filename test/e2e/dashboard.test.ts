import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { startApi } from '../../src/api/start-api.js';
import type { App } from '../../src/api/app.js';
import type { RedisEndpoint } from '../../src/queue/local-redis.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testApiRoot } from '../helpers/test-app.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { DIGITS_CSV } from '../helpers/digits.js';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the real
 * API, Redis and a worker process: upload, start a job, watch its curves grow over SSE, open the
 * model, its affinity heatmap and a prediction; Swagger UI's "Try it out". With
 * DASHBOARD_SCREENSHOTS=<folder> (npm run screenshots: docs/) it also saves a PNG of each page.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.DASHBOARD_SCREENSHOTS ? resolve(process.env.DASHBOARD_SCREENSHOTS) : null;
const ADMIN_KEY = 'dashboard-admin-key';
const PREDICT_KEY = 'dashboard-predict-key';
const TASKS = ['digit', 'parity', 'tags', 'value'];
const EPOCHS = 8;

let redis: RedisEndpoint;
let app: App;
let worker: WorkerProcess | undefined;
let context: BrowserContext;
let page: Page;
let base: string;
const dirs: string[] = [];
const pageErrors: string[] = [];
const env: Record<string, string> = {};
const state: { datasetId?: string; jobId?: string; modelId?: string } = {};

async function shot(name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `dashboard-${name}.png`), fullPage: true });
}

/** Opens a dashboard route and waits until its page has rendered. */
async function open(hash: string, ready: string) {
  await page.goto(`${base}/ui/${hash}`);
  await page.locator(ready).first().waitFor();
}

const NO_CHROMIUM =
  `Chromium not found at ${CHROMIUM}: the dashboard tests drive a real browser. Install Debian's package ` +
  '(apt-get update && apt-get install -y chromium; .ci/run does this) or set CHROMIUM_PATH to a Chromium binary.';

// A missing browser is a failure with this message, never a silent skip.
it('finds Chromium', () => assert.ok(existsSync(CHROMIUM), NO_CHROMIUM));

describe('dashboard in a real browser', { timeout: 240_000 }, () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(NO_CHROMIUM);
    redis = await testRedis();
    const dataDir = mkdtempSync(join(tmpdir(), 'mtl-dashboard-'));
    const profile = mkdtempSync(join(tmpdir(), 'mtl-chromium-'));
    dirs.push(dataDir, profile);
    Object.assign(env, { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('dashboard'), DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
    app = await startApi(testApiRoot(loadConfig(env), redis.url));
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && !/Failed to load resource/.test(msg.text()) && pageErrors.push(msg.text()));
  });

  after(async () => {
    await context?.close();
    await worker?.stop();
    if (redis) await obliterateTrainingQueue(redis.url, env.QUEUE_PREFIX).catch(() => undefined);
    await app?.close();
    await redis?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('redirects / to /ui/ and shows the job list', async () => {
    await page.goto(`${base}/`);
    assert.match(page.url(), /\/ui\/$/);
    await page.locator('h1', { hasText: 'Training jobs' }).waitFor();
    assert.equal(await page.getAttribute('#key-button', 'data-key-set'), 'false');
  });

  it('uploads a CSV and shows the inferred column types', async () => {
    await page.locator('a[data-nav="datasets"]').click();
    await page.locator('#upload-form').waitFor();
    const [header, ...lines] = readFileSync(DIGITS_CSV, 'utf8').trim().split('\n');
    const csv = join(dirs[0], 'digits.csv');
    writeFileSync(csv, [header, ...lines.slice(0, 600)].join('\n') + '\n');
    await page.setInputFiles('#upload-file', csv);
    await page.fill('#upload-name', 'digits');
    await page.click('#upload-button');
    await page.waitForURL(/#\/datasets\/[0-9a-f-]{36}$/);
    await page.locator('#dataset-columns').waitFor();
    state.datasetId = page.url().split('/').pop();
    const typeOf = (c: string) => page.getAttribute(`#dataset-columns tr[data-column="${c}"]`, 'data-type');
    assert.equal(await page.locator('#dataset-columns tr[data-column]').count(), 64 + 4);
    assert.equal(await typeOf('p10'), 'numeric');
    assert.equal(await typeOf('parity'), 'categorical');
    assert.equal(await typeOf('tags'), 'multilabel');
    // p0…p63 are a numbered family of inputs, so the other columns are guessed to be the tasks.
    for (const t of TASKS) assert.equal(await page.inputValue(`#dataset-columns tr[data-column="${t}"] select[name=role]`), 'task', t);
    assert.equal(await page.inputValue('#dataset-columns tr[data-column="p10"] select[name=role]'), 'feature');
    assert.equal(await page.inputValue('#dataset-columns tr[data-column="value"] select[name=taskType]'), 'regression', 'a quantity is guessed regression');
    const spec = JSON.parse(await page.inputValue('#spec-input'));
    assert.equal(spec.datasetId, state.datasetId);
    assert.deepEqual(
      spec.tasks.map((t: { name: string; type: string }) => `${t.name}:${t.type}`),
      ['digit:classification', 'parity:binary', 'tags:multilabel', 'value:regression'],
    );
    await page.locator('#dataset-columns tr[data-column="value"]').scrollIntoViewIfNeeded();
    await shot('dataset');
    await open('#/datasets', '#datasets tr[data-dataset-id]');
    await shot('datasets');
  });

  it('cancels a queued job from its page', async () => {
    await open(`#/datasets/${state.datasetId}`, '#spec-input');
    await page.click('#start-training');
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    await page.locator('.page[data-state="queued"]').waitFor();
    await page.click('#cancel-job');
    await page.locator('.page[data-state="cancelled"]').waitFor();
    assert.equal(await page.locator('#cancel-job').count(), 0, 'no cancel button on a finished job');
  });

  it('trains a job and draws its curves live over SSE as the epochs land', async () => {
    await open(`#/datasets/${state.datasetId}`, '#spec-input');
    await page.selectOption('#dataset-columns tr[data-column="value"] select[name=taskType]', 'regression');
    await page.fill('#spec-modelName', 'digits-mtl'); // the name the predict example in /docs uses
    await page.fill('#spec-sharedLayers', '32');
    await page.fill('#spec-headLayers', '16');
    await page.fill('#spec-epochs', String(EPOCHS));
    await page.fill('#spec-learningRate', '0.003');
    await page.fill('#spec-batchSize', '32');
    await page.fill('#spec-patience', '0');
    await page.selectOption('#spec-lossWeighting', 'dwa');
    await page.check('#spec-baselines');
    const spec = JSON.parse(await page.inputValue('#spec-input'));
    assert.deepEqual(spec.architecture, { type: 'hard-sharing', sharedLayers: [32], headLayers: [16] });
    assert.equal(spec.training.earlyStopping, false);
    assert.equal(spec.training.baselines, true);
    assert.deepEqual(spec.lossWeighting, { strategy: 'dwa' });

    const stream = page.waitForRequest((r) => /\/v1\/jobs\/[^/]+\/events$/.test(r.url()));
    await page.click('#start-training');
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    state.jobId = page.url().split('/').pop();
    await page.locator('.page[data-state="queued"][data-epochs="0"]').waitFor();
    assert.equal((await stream).headers().accept, 'text/event-stream');

    // Record every value the page's epoch count takes, then let a worker pick the job up.
    await page.evaluate(() => {
      const root = document.querySelector('.page')!;
      const seen: string[] = [];
      (window as unknown as { seenEpochs: string[] }).seenEpochs = seen;
      new MutationObserver(() => seen.push(root.getAttribute('data-epochs')!)).observe(root, { attributes: true, attributeFilter: ['data-epochs'] });
    });
    worker = startWorkerProcess({ ...env, LOG_LEVEL: 'info' });
    await page.locator('.page[data-state="running"]').waitFor({ timeout: 60_000 });
    await page.locator('.page[data-state="succeeded"]').waitFor({ timeout: 180_000 }).catch((err) => {
      throw new Error(`${err.message}\nworker output:\n${worker!.output().slice(-3000)}`);
    });

    const seen = [...new Set(await page.evaluate(() => (window as unknown as { seenEpochs: string[] }).seenEpochs.map(Number)))].filter((n) => n > 0);
    assert.ok(seen.length >= 2, `the curves grew epoch by epoch, saw ${JSON.stringify(seen)}`);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'epoch counts only grow');
    assert.equal(seen.at(-1), EPOCHS);
    const points = (key: string) => page.getAttribute(`[data-chart="${key}"]`, 'data-points').then(Number);
    assert.equal(await points('loss:total'), EPOCHS);
    for (const t of TASKS) {
      assert.equal(await points(`loss:${t}`), EPOCHS, `${t} loss curve`);
      assert.equal(await points(`metric:${t}`), EPOCHS, `${t} metric curve`);
    }
    assert.equal(await page.getAttribute('[data-chart="weights"]', 'data-series'), TASKS.join(','));
    assert.equal(await page.locator('[data-chart] canvas').count(), 2 + 2 * TASKS.length, 'every chart is drawn on a canvas');
    await shot('job');
  });

  it('shows the model: metrics, the affinity heatmap for every task pair, baselines and Δm, and a prediction', async () => {
    await page.click('#open-model');
    await page.waitForURL(/#\/models\/[^/]+$/);
    await page.locator('#affinity-heatmap').waitFor();
    state.modelId = page.url().split('/').pop();
    assert.equal(await page.locator('#model-metrics tr[data-task]').count(), TASKS.length);
    assert.equal(await page.locator('#affinity-heatmap [data-cell]').count(), TASKS.length ** 2);
    for (const a of TASKS) {
      for (const b of TASKS) {
        const raw = await page.getAttribute(`#affinity-heatmap [data-cell="${a}|${b}"]`, 'data-value');
        assert.ok(raw !== null && raw !== '', `affinity ${a}|${b} has a value`); // (Number(null) would read as 0)
        const v = Number(raw);
        assert.ok(v >= -1 && v <= 1, `affinity ${a}|${b} = ${v}`);
      }
    }
    const grouped = await page.locator('#affinity-groups [data-group] .chip').allTextContents();
    assert.deepEqual(grouped.sort(), [...TASKS].sort(), 'every task is in one suggested group');
    assert.equal(await page.locator('#baselines tr[data-task]').count(), TASKS.length);
    assert.ok(Number.isFinite(Number(await page.getAttribute('#baselines [data-delta-m]', 'data-delta-m'))));

    const instance = JSON.parse(await page.inputValue('#predict-input')).instances[0];
    assert.equal(Object.keys(instance).length, 64, 'the prediction form is prefilled with every feature');
    await page.click('#predict-button');
    await page.locator('#predict-output [data-prediction-task]').first().waitFor();
    const answered = await page.locator('#predict-output [data-prediction-task]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.predictionTask));
    assert.deepEqual(answered, TASKS);
    await shot('model');
  });

  it('shows the aliases of the model\'s name, sets and removes them', async () => {
    await page.locator('#alias-none').waitFor();
    await page.fill('#alias-name', 'prod');
    await page.selectOption('#alias-version', '1');
    await page.click('#alias-set');
    await page.locator('#alias-table tr[data-alias="prod"]').waitFor();
    assert.equal(await page.getAttribute('#alias-table tr[data-alias="prod"]', 'data-version'), '1');
    await page.locator('#model-alias-chips [data-alias="prod"]').waitFor();
    const viaApi = await (await fetch(`${base}/v1/models/digits-mtl@prod`)).json();
    assert.equal(viaApi.id, state.modelId, 'the alias is in the store');
    assert.deepEqual(viaApi.aliases, ['prod']);
    await page.fill('#alias-name', 'bad alias');
    assert.equal(await page.locator('#alias-name:invalid').count(), 1, 'the form refuses what the API would');
    await page.fill('#alias-name', 'canary');
    await page.click('#alias-set');
    await page.locator('#alias-table tr[data-alias="canary"]').waitFor();
    await shot('model-aliases');
    await page.click('#alias-table [data-remove-alias="canary"]');
    await page.locator('#alias-table tr[data-alias="canary"]').waitFor({ state: 'detached' });
    await page.click('#alias-table [data-remove-alias="prod"]');
    await page.locator('#alias-none').waitFor();
    assert.equal(await page.locator('#model-alias-chips [data-alias]').count(), 0);
    assert.equal((await fetch(`${base}/v1/models/digits-mtl@prod`)).status, 404);
  });

  it('lists the jobs with their states, refreshing by itself', async () => {
    await open('#/jobs', '#jobs tr[data-job-id]');
    assert.equal(await page.getAttribute(`#jobs tr[data-job-id="${state.jobId}"]`, 'data-state'), 'succeeded');
    assert.equal(await page.locator('#jobs tr[data-state="cancelled"]').count(), 1);
    const first = await page.textContent('#jobs-updated');
    await page.waitForFunction((before) => document.querySelector('#jobs-updated')?.textContent !== before, first, { timeout: 10_000 });
    await shot('jobs');
    await open('#/models', 'tr[data-model-id]');
    assert.equal(await page.locator(`tr[data-model-id="${state.modelId}"]`).count(), 1);
  });

  it('Swagger UI at /docs: "Try it out" → "Execute" with the documented examples works', async () => {
    await page.goto(`${base}/docs`);
    /** Runs one operation with its prefilled example; returns the status and body Swagger UI shows. */
    const tryIt = async (method: string, path: string) => {
      const op = page.locator(`.opblock-${method}`, { has: page.locator(`[data-path="${path}"]`) });
      await op.locator('.opblock-summary').click();
      await op.locator('button.try-out__btn').click();
      await op.locator('button.execute').click();
      const live = op.locator('.live-responses-table');
      await live.locator('tbody .response-col_status').first().waitFor();
      const result = { status: Number(await live.locator('tbody .response-col_status').first().textContent()), body: (await live.locator('tbody .response-col_description pre').first().textContent()) ?? '' };
      await op.locator('.opblock-summary').click();
      return result;
    };
    const live = await tryIt('get', '/health/live');
    assert.equal(live.status, 200);
    assert.match(live.body, /"status":\s*"ok"/);
    // The upload example is a small CSV; the predict example is a digit scan for the model named digits-mtl (trained above).
    const upload = await tryIt('post', '/v1/datasets');
    assert.equal(upload.status, 201, upload.body);
    assert.equal(JSON.parse(upload.body).rows, 6);
    const predict = await tryIt('post', '/v1/models/{id}/predict');
    assert.equal(predict.status, 200, predict.body);
    assert.deepEqual(Object.keys(JSON.parse(predict.body).predictions[0]).sort(), [...TASKS].sort());
  });

  it('with API keys: asks for a key on 401, again on 403 for a key whose role may not, then sends it everywhere, the live stream included', async () => {
    // A second API on the same Redis with the auth plugin on; its localStorage (another port) holds no key yet.
    const dataDir = mkdtempSync(join(tmpdir(), 'mtl-dashboard-auth-'));
    dirs.push(dataDir);
    const secured = await startApi(
      testApiRoot(loadConfig({ ...env, QUEUE_PREFIX: uniquePrefix('dashboard-auth'), DATA_DIR: dataDir, API_KEYS: `${ADMIN_KEY}:admin,${PREDICT_KEY}:predict` }), redis.url),
    );
    try {
      const securedBase = `http://127.0.0.1:${(secured.server.address() as { port: number }).port}`;
      const call = async (method: string, path: string, body: string, contentType: string) => {
        const res = await fetch(securedBase + path, { method, body, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': contentType } });
        assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
        return res.json();
      };
      const [header, ...lines] = readFileSync(DIGITS_CSV, 'utf8').trim().split('\n');
      const ds = await call('POST', '/v1/datasets?name=small', [header, ...lines.slice(0, 60)].join('\n') + '\n', 'text/csv');
      const job = await call('POST', '/v1/jobs', JSON.stringify({ datasetId: ds.id, tasks: [{ name: 'parity', type: 'binary' }] }), 'application/json'); // no worker here: it stays queued

      await page.goto(`${securedBase}/ui/#/jobs`);
      await page.locator('#key-dialog[open]').waitFor();
      assert.match((await page.textContent('#key-reason')) ?? '', /needs a key/);
      await page.fill('#key-input', PREDICT_KEY);
      await page.click('#key-save');
      // A predict key may read models but not list jobs: the page says so and asks again.
      await page.locator('#key-dialog[open] #key-reason', { hasText: 'refused this key' }).waitFor();
      await page.fill('#key-input', ADMIN_KEY);
      const listed = page.waitForRequest((r) => r.url().endsWith('/v1/jobs') && r.headers().authorization === `Bearer ${ADMIN_KEY}`);
      await page.click('#key-save');
      await listed;
      await page.locator(`#jobs tr[data-job-id="${job.id}"][data-state="queued"]`).waitFor();
      assert.equal(await page.getAttribute('#key-button', 'data-key-set'), 'true');

      const stream = page.waitForRequest((r) => r.url().endsWith(`/v1/jobs/${job.id}/events`));
      await page.click(`#jobs tr[data-job-id="${job.id}"] a`);
      const sse = await stream;
      assert.equal(sse.headers().authorization, `Bearer ${ADMIN_KEY}`, 'the event stream is read with fetch and carries the key');
      assert.doesNotMatch(sse.url(), /access_token/, 'the key never goes into a URL');
      await page.locator('.live[data-stream="live"]').waitFor(); // the auth plugin let the stream through
      await page.goto('about:blank');
    } finally {
      await obliterateTrainingQueue(redis.url, secured.services.config.QUEUE_PREFIX).catch(() => undefined);
      await secured.close();
    }
  });

  it('raised no script errors on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
