import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { selectBackend } from '../../src/mtl/backend.js';
import * as tf from '@tensorflow/tfjs';
import { disposeModel, trainOnRows, type TrainedModel } from '../../src/mtl/pipeline.js';
import { predictInstances } from '../../src/mtl/predictor.js';
import { resolveSpec } from '../../src/mtl/spec-resolution.js';
import { maskedLossParts, maskedMean } from '../../src/mtl/losses.js';
import { LOSS_WEIGHTING_STRATEGIES } from '../../src/mtl/loss-weighting/index.js';
import { ARCHITECTURE_TYPES } from '../../src/mtl/architectures/index.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';
import type { Row } from '../../src/mtl/values.js';
import { registerWebGpuBackend, WEBGPU_BACKEND } from '../../src/mtl/webgpu-backend.js';
import { loadDigits, PIXELS } from '../helpers/digits.js';

/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn, npm `webgpu`) against the plain JS `cpu`
 * backend, on the same data, seeds and spec: same per-epoch losses, every architecture and loss
 * weighting, the masked losses and gathers, no leaked tensor. Runs on any Vulkan driver; on a CPU
 * machine that is Mesa's llvmpipe from bookworm-backports (.ci/run installs it), where it is slow,
 * hence the small data. Skipped, saying why, where no WebGPU adapter can be created.
 */
process.env.XDG_RUNTIME_DIR ??= '/tmp'; // Mesa warns on every process without one
const gpu = await registerWebGpuBackend({ allowSoftware: true });
const skip = gpu.ok ? false : `no WebGPU adapter here: ${gpu.reason}`;

const { rows, summary } = loadDigits();
const features = PIXELS.map((name) => ({ name }));
const tasks: TrainingSpec['tasks'] = [
  { name: 'digit', type: 'classification' },
  { name: 'parity', type: 'binary' },
  { name: 'value', type: 'regression' },
];
/** Float32 on two devices: sums in another order. Per-epoch losses (≈0.1–3) must agree to this. */
const TOLERANCE = 1e-4;

/** Trains `spec` on `data` on the named backend; returns the history and predictions, disposes the model, checks nothing leaked. */
async function trainOn(backend: string, spec: Partial<TrainingSpec>, data: Row[], predictRows: Row[] = []) {
  assert.ok(await tf.setBackend(backend));
  const before = tf.memory().numTensors;
  const perEpoch: number[] = [];
  const resolved = resolveSpec({ datasetId: 'digits', features, tasks, ...spec, training: { batchSize: 32, learningRate: 0.01, earlyStopping: false, epochs: 1, ...spec.training } }, summary);
  let trained: TrainedModel | null = null;
  try {
    trained = await trainOnRows(resolved, data, { onEpoch: () => void perEpoch.push(tf.memory().numTensors) });
    const predictions = predictRows.length > 0 ? predictInstances(trained.model.serving, trained.preprocessing, predictRows) : [];
    return { history: trained.result.history, metrics: trained.result.validationMetrics, predictions, perEpoch };
  } finally {
    if (trained) disposeModel(trained.model);
    assert.equal(tf.memory().numTensors, before, `${backend}: every tensor freed after disposing the model`);
  }
}

function assertSameLosses(cpu: Awaited<ReturnType<typeof trainOn>>, gpu: Awaited<ReturnType<typeof trainOn>>, what: string): void {
  assert.equal(gpu.history.length, cpu.history.length);
  cpu.history.forEach((c, e) => {
    const g = gpu.history[e];
    assert.ok(Number.isFinite(g.loss), `${what}: epoch ${e + 1} loss ${g.loss}`);
    assert.ok(Math.abs(g.loss - c.loss) <= TOLERANCE, `${what}: epoch ${e + 1} loss webgpu ${g.loss} vs cpu ${c.loss}`);
    for (const name of Object.keys(c.tasks)) {
      const [gl, cl] = [g.tasks[name].loss, c.tasks[name].loss];
      assert.ok(gl !== null && cl !== null && Math.abs(gl - cl) <= TOLERANCE, `${what}: epoch ${e + 1} ${name} loss webgpu ${gl} vs cpu ${cl}`);
    }
  });
}

describe('webgpu backend (Dawn) against cpu', { skip }, () => {
  it('says which adapter it runs on', () => {
    assert.ok(gpu.ok);
    const { adapter } = gpu;
    // On a CPU machine this is Mesa's llvmpipe: a software adapter.
    assert.ok(adapter.vendor !== '' || adapter.description !== '', JSON.stringify(adapter));
  });

  it('reads tensors synchronously (dataSync, arraySync) and asynchronously alike', async () => {
    assert.ok(await tf.setBackend(WEBGPU_BACKEND));
    tf.tidy(() => {
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      const b = tf.matMul(a, a); // computed on the GPU: no CPU copy until read
      assert.deepEqual(Array.from(b.dataSync()), [7, 10, 15, 22]);
      assert.equal(tf.sum(tf.matMul(b, a)).arraySync(), 37 + 54 + 81 + 118);
    });
    const c = tf.square(tf.range(0, 5));
    assert.deepEqual(Array.from(await c.data()), [0, 1, 4, 9, 16]);
    c.dispose();
  });

  it('masked losses of every head type and row gathers equal the cpu ones', async () => {
    const cases = [
      { type: 'classification' as const, width: 3, logits: [[0, 0, 0], [1, 2, 3], [5, 0, 0], [0.5, -1, 2]], labels: [0, 2, 1, 1] },
      { type: 'binary' as const, width: 1, logits: [[0], [2], [-1], [30]], labels: [1, 0, 1, 0] },
      { type: 'multilabel' as const, width: 2, logits: [[0, 1], [2, -2], [-1, 0.5], [3, 3]], labels: [[1, 0], [0, 1], [1, 1], [0, 0]] },
      { type: 'regression' as const, width: 1, logits: [[0.5], [2], [-1], [0]], labels: [1, 0.5, -1, 3] },
    ];
    const mask = [1, 0, 1, 1];
    const run = async (backend: string) => {
      assert.ok(await tf.setBackend(backend));
      return cases.map((c) =>
        tf.tidy(() => {
          // Gather the rows in another order first (the step's batch), then the masked mean.
          const order = tf.tensor1d([3, 1, 0, 2], 'int32');
          const logits = tf.gather(tf.tensor2d(c.logits), order);
          const labels = tf.gather(c.type === 'multilabel' ? tf.tensor2d(c.labels as number[][]) : tf.tensor1d(c.labels as number[], c.type === 'classification' ? 'int32' : 'float32'), order);
          const m = tf.gather(tf.tensor1d(mask), order);
          const { sum, count } = maskedLossParts(c.type, logits, labels, m, c.width);
          return [sum.dataSync()[0], count.dataSync()[0], maskedMean(sum, count).dataSync()[0]];
        }),
      );
    };
    const cpu = await run('cpu');
    const webgpu = await run(WEBGPU_BACKEND);
    cases.forEach((c, i) => {
      assert.equal(webgpu[i][1], 3, `${c.type}: three rows unmasked`);
      webgpu[i].forEach((v, k) => assert.ok(Math.abs(v - cpu[i][k]) <= 1e-5, `${c.type}: ${['sum', 'count', 'mean'][k]} webgpu ${v} vs cpu ${cpu[i][k]}`));
    });
  });

  it('trains digits to the same per-epoch losses as cpu (within 1e-4), predicts the same, leaks nothing', async (t) => {
    const spec: Partial<TrainingSpec> = { architecture: { type: 'hard-sharing', sharedLayers: [32, 16] }, training: { epochs: 3, seed: 7 } };
    const data = rows.slice(0, 480);
    const probe = rows.slice(1700, 1716);
    const cpu = await trainOn('cpu', spec, data, probe);
    const webgpu = await trainOn(WEBGPU_BACKEND, spec, data, probe);
    t.diagnostic(`loss per epoch: cpu ${cpu.history.map((h) => h.loss.toFixed(6)).join(', ')}; webgpu ${webgpu.history.map((h) => h.loss.toFixed(6)).join(', ')}`);
    assertSameLosses(cpu, webgpu, 'digits');
    assert.ok(webgpu.history.at(-1)!.loss < webgpu.history[0].loss, 'it learns');
    assert.equal(new Set(webgpu.perEpoch).size, 1, `tensors alive at the end of each epoch: ${webgpu.perEpoch}`);
    // Same class for each probe row; probabilities to float32 precision.
    webgpu.predictions.forEach((p, i) => {
      const c = cpu.predictions[i];
      assert.equal((p.digit as { label: unknown }).label, (c.digit as { label: unknown }).label);
      assert.ok(Math.abs((p.value as { value: number }).value - (c.value as { value: number }).value) <= 1e-3, `value webgpu ${JSON.stringify(p.value)} vs cpu ${JSON.stringify(c.value)}`);
    });
  });

  const small = rows.slice(0, 160);
  // Small versions of each (llvmpipe is slow), with seeded dropout after every hidden layer; the
  // custom layers (cross-stitch units, gates, DSelect-k's selectors) run as the architectures use them.
  const architectures: NonNullable<TrainingSpec['architecture']>[] = [
    { type: 'hard-sharing', sharedLayers: [32, 16], headLayers: [8], dropout: 0.2 },
    { type: 'soft-sharing', sharedLayers: [16], headLayers: [8], crossStitch: true, dropout: 0.2 },
    { type: 'mmoe', experts: 2, expertLayers: [16], towerLayers: [8], dropout: 0.2 },
    { type: 'ple', experts: 1, taskExperts: 1, expertLayers: [16], towerLayers: [8], dropout: 0.2 },
    { type: 'dselect-k', experts: 3, k: 2, expertLayers: [16], towerLayers: [8], dropout: 0.2 },
    { type: 'branched', tree: { layers: [16], tasks: ['digit'], branches: [{ layers: [8], tasks: ['parity'] }, { tasks: ['value'] }] }, dropout: 0.2 },
  ];
  it('covers every architecture of the registry', () => {
    assert.deepEqual(architectures.map((a) => a.type).sort(), [...ARCHITECTURE_TYPES].sort());
  });
  for (const architecture of architectures) {
    it(`architecture ${architecture.type} (dropout, weight decay) trains on webgpu as on cpu`, async () => {
      const spec: Partial<TrainingSpec> = { architecture, training: { epochs: 2, seed: 3, weightDecay: 0.01 } };
      const cpu = await trainOn('cpu', spec, small);
      const webgpu = await trainOn(WEBGPU_BACKEND, spec, small);
      assertSameLosses(cpu, webgpu, architecture.type!);
    });
  }

  for (const strategy of LOSS_WEIGHTING_STRATEGIES) {
    it(`loss weighting ${strategy} trains on webgpu as on cpu`, async () => {
      const spec = { architecture: { type: 'hard-sharing', sharedLayers: [16] }, lossWeighting: { strategy }, training: { epochs: 2, seed: 5 } } as Partial<TrainingSpec>;
      const cpu = await trainOn('cpu', spec, small);
      const webgpu = await trainOn(WEBGPU_BACKEND, spec, small);
      assertSameLosses(cpu, webgpu, strategy);
      cpu.history.forEach((c, e) => {
        for (const [task, w] of Object.entries(c.weights)) assert.ok(Math.abs(webgpu.history[e].weights[task] - w) <= 1e-3, `${strategy}: epoch ${e + 1} weight of ${task} webgpu ${webgpu.history[e].weights[task]} vs cpu ${w}`);
      });
    });
  }

  it('auto never picks a software adapter, and says why it skipped it', async () => {
    assert.ok(gpu.ok);
    const chosen = await selectBackend('auto', 'training');
    if (gpu.adapter.software) {
      assert.notEqual(chosen.name, WEBGPU_BACKEND);
      assert.match(chosen.detail, /webgpu: the adapter is a software one/);
    } else {
      assert.equal(chosen.name, WEBGPU_BACKEND, 'a real GPU: auto trains on it');
    }
  });
});

describe('a webgpu worker without a Vulkan driver', () => {
  it('refuses to start, naming the missing driver', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mtl-webgpu-'));
    try {
      const root = fileURLToPath(new URL('../../', import.meta.url));
      // VK_ICD_FILENAMES pointing nowhere: the Vulkan loader finds no driver, as on a host without one.
      const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
        cwd: root,
        env: { ...process.env, TF_BACKEND: 'webgpu', VK_ICD_FILENAMES: join(dataDir, 'no-driver.json'), DATA_DIR: dataDir, LOG_LEVEL: 'info' },
        timeout: 60_000,
      });
      const failure = await run.then(() => null, (err: { code?: number; stdout?: string }) => err);
      assert.ok(failure, 'the worker exits with an error');
      assert.equal(failure.code, 1);
      assert.match(failure.stdout ?? '', /worker not started: TF_BACKEND=webgpu but .*(Vulkan driver|not installed)/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
