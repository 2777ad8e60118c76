import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { fitLinearReference, fitLinearReferences } from '../../src/mtl/linear-reference.js';
import { encodeDataset } from '../../src/mtl/dataset-encoding.js';
import { linearHeads } from '../../src/mtl/model-builder.js';
import { disposeModel, trainOnRows } from '../../src/mtl/pipeline.js';
import { asRowSource } from '../../src/mtl/row-source.js';
import { resolveSpec, type DatasetSummary } from '../../src/mtl/spec-resolution.js';
import type { TrainingSpec } from '../../src/mtl/spec.js';
import type { Row } from '../../src/mtl/values.js';
import { useTestBackend } from '../helpers/backend.js';
import { collinearData, referenceCases } from '../helpers/linear-data.js';

describe('linear references', () => {
  it('ridge: the closed form on a hand-sized case', () => {
    // x = 1..4, y = 2x: centred Σxc² = 5, Σxc·yc = 10, so w = 10/(5 + λ), b = ȳ − x̄·w
    const r = fitLinearReference({
      task: { task: 'y', column: 'y', type: 'regression', mean: 0, std: 1 },
      x: Float32Array.from([1, 2, 3, 4, 2.5]),
      cols: 1,
      y: Float32Array.from([2, 4, 6, 8, 5]),
      mask: Float32Array.from([1, 1, 1, 1, 1]),
      trainRows: [0, 1, 2, 3],
      validationRows: [4],
      lambdas: [1],
    });
    assert.ok(Math.abs(r.weights[0] - 10 / 6) < 1e-6, `w ${r.weights[0]}`);
    assert.ok(Math.abs(r.bias[0] - (5 - 2.5 * (10 / 6))) < 1e-6, `b ${r.bias[0]}`);
    assert.equal(r.metricName, 'rmse');
    assert.equal(r.split, 'validation');
    // the validation row sits on the fitted line's centre: ȳ exactly
    assert.ok(Math.abs(r.value! - 0) < 1e-6, `rmse ${r.value}`);
  });

  it('logistic, softmax and multi-label: the gradient of Σ loss + λ/2‖W‖² vanishes at the solution', () => {
    const { cases } = referenceCases();
    for (const c of cases.filter((k) => k.kind !== 'regression')) {
      const lambda = 1;
      const r = fitLinearReference({ ...c.args, lambdas: [lambda] });
      const { x, cols, y, trainRows } = c.args;
      const width = r.bias.length;
      const grad = new Float64Array(cols * width + width);
      for (const i of trainRows) {
        const z = Array.from({ length: width }, (_, k) => {
          let v = r.bias[k];
          for (let j = 0; j < cols; j++) v += x[i * cols + j] * r.weights[j * width + k];
          return v;
        });
        let residual: number[];
        if (c.kind === 'classification') {
          const max = Math.max(...z);
          const e = z.map((v) => Math.exp(v - max));
          const s = e.reduce((a, b) => a + b, 0);
          residual = e.map((v, k) => v / s - (k === y[i] ? 1 : 0));
        } else {
          residual = z.map((v, k) => 1 / (1 + Math.exp(-v)) - y[i * width + k]);
        }
        for (let k = 0; k < width; k++) {
          for (let j = 0; j < cols; j++) grad[j * width + k] += x[i * cols + j] * residual[k];
          grad[cols * width + k] += residual[k];
        }
      }
      for (let j = 0; j < cols * width; j++) grad[j] += lambda * r.weights[j];
      // float32 weights: the gradient of the sum over 240 rows is zero up to their rounding
      const worst = Math.max(...grad.map(Math.abs));
      assert.ok(worst < 1e-3, `${c.name}: max |gradient| ${worst}`);
    }
  });

  it('the λ and validation metric scikit-learn 1.2.1 finds on the same grid (scripts/linear-reference-check.ts)', () => {
    // Ridge(alpha=λ) / LogisticRegression(C=1/λ) on the grid 1e3 … 1e-4, best on the 60 validation rows.
    const sklearn: Record<string, { lambda: number; metric: string; value: number }> = {
      ridge: { lambda: 100, metric: 'rmse', value: 0.3247 },
      logistic: { lambda: 100, metric: 'auc', value: 0.97 },
      softmax: { lambda: 10 ** 1.5, metric: 'accuracy', value: 0.85 },
      multilabel: { lambda: 1, metric: 'microF1', value: 0.9497 },
    };
    for (const c of referenceCases().cases) {
      const r = fitLinearReference(c.args);
      const want = sklearn[c.name];
      assert.equal(r.metricName, want.metric, c.name);
      assert.ok(Math.abs(r.lambda - want.lambda) < 1e-9, `${c.name}: λ ${r.lambda} vs ${want.lambda}`);
      assert.ok(Math.abs(r.value! - want.value) < 5e-5, `${c.name}: ${r.metricName} ${r.value} vs ${want.value}`);
      assert.equal(r.weights.length, c.args.cols * r.bias.length);
    }
  });

  it('rows without a label are left out of the fit and the metric', () => {
    const c = referenceCases().cases[0];
    const mask = Float32Array.from(c.args.mask, (_, i) => (i % 3 === 0 ? 0 : 1));
    const y = Float32Array.from(c.args.y as Float32Array, (v, i) => (i % 3 === 0 ? 1e6 : v)); // garbage where unlabelled
    const r = fitLinearReference({ ...c.args, y, mask });
    assert.equal(r.metrics.count, c.args.validationRows.filter((i) => i % 3 !== 0).length);
    assert.ok(r.metrics.r2! > 0.5, `R² ${r.metrics.r2}`);
  });
});

describe('a linear task in a branched model, warm-started from its linear reference', () => {
  before(useTestBackend);

  // 200 rows × 100 strongly collinear numbers (5 latent factors), a target linear in them, and a binary task.
  const D = 100;
  const N = 200;
  const data = collinearData(N, D, 5, 5, 1);
  const rows: Row[] = Array.from({ length: N }, (_, i) => {
    const r: Row = { y: data.y[i], other: data.binary[i] };
    for (let j = 0; j < D; j++) r[`f${j}`] = data.x[i * D + j];
    return r;
  });
  const numeric = (name: string, distinct: number) => ({ name, type: 'numeric' as const, missing: 0, distinct, distinctCapped: false });
  const summary = { id: 'c', name: 'collinear', rows: N, columns: [...Array.from({ length: D }, (_, j) => numeric(`f${j}`, N)), numeric('y', N), numeric('other', 2)] } as unknown as DatasetSummary;
  const tasks: TrainingSpec['tasks'] = [{ name: 'y', type: 'regression' }, { name: 'other', type: 'binary' }];

  it('reaches ridge\'s held-out R² (within 0.01), where a hard-sharing network does not', async (t) => {
    const branchedSpec = resolveSpec(
      {
        datasetId: 'c',
        tasks,
        architecture: { type: 'branched', tree: { branches: [{ layers: [32], tasks: ['other'] }, { tasks: ['y'] }] } },
        training: { epochs: 20, batchSize: 32, weightDecay: 0.01, linearWarmStart: true },
      },
      summary,
    );
    // ridge on the same split, from the same encoding the model sees
    const encoded = await encodeDataset(branchedSpec, asRowSource(rows));
    const ridge = fitLinearReferences(encoded.preprocessing, encoded.train, encoded.validation).y;
    const branched = await trainOnRows(branchedSpec, rows);
    const hard = await trainOnRows(resolveSpec({ datasetId: 'c', tasks, training: { epochs: 20, batchSize: 32 } }, summary), rows);
    try {
      assert.deepEqual(linearHeads(branched.model), ['y']);
      const r2 = branched.result.validationMetrics!.y.r2!;
      const hardR2 = hard.result.validationMetrics!.y.r2!;
      t.diagnostic(`validation R²: ridge ${ridge.metrics.r2!.toFixed(4)} (λ ${ridge.lambda.toPrecision(3)}), branched linear + warm start ${r2.toFixed(4)}, hard sharing ${hardR2.toFixed(4)}`);
      assert.ok(r2 >= ridge.metrics.r2! - 0.01, `branched R² ${r2} vs ridge ${ridge.metrics.r2}`);
      assert.ok(hardR2 < ridge.metrics.r2! - 0.01, `hard sharing R² ${hardR2}: the case is one a network gets wrong`);
    } finally {
      disposeModel(branched.model);
      disposeModel(hard.model);
    }
  });
});
