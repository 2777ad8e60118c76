/**
 * Checks src/mtl/linear-reference.ts against scikit-learn on generated data: ridge (Ridge(alpha=λ)),
 * logistic (LogisticRegression(C=1/λ)), softmax (multinomial LogisticRegression(C=1/λ)) and
 * multi-label (one LogisticRegression per label), at fixed λ (coefficients, intercepts) and over the
 * λ grid (the λ chosen on the validation split and its metric).
 *
 *   npx tsx scripts/linear-reference-check.ts [python3 with scikit-learn, default python3]
 *
 * Prints one line per case; exits 1 when a coefficient differs by more than 1e-3 where ours does not
 * reach a lower objective than scikit-learn's, or when the chosen λ or its validation metric differs
 * (scikit-learn here scans the whole grid; ours stops after PATIENCE worse λ).
 */
import { execFileSync } from 'node:child_process';
import { fitLinearReference, LAMBDA_GRID } from '../src/mtl/linear-reference.js';
import { referenceCases } from '../test/helpers/linear-data.js';

const python = process.argv[2] ?? 'python3';
const { cases, yMean, yStd, TRAIN } = referenceCases();

const fixedLambdas = [0.1, 10];
const ours = cases.map((c) => {
  const started = performance.now();
  const grid = fitLinearReference(c.args);
  const ms = performance.now() - started;
  return {
    name: c.name,
    kind: c.kind,
    cols: c.args.cols,
    x: Array.from(c.args.x),
    y: Array.from(c.args.y),
    yMean,
    yStd,
    fixed: fixedLambdas.map((lambda) => {
      const r = fitLinearReference({ ...c.args, lambdas: [lambda] });
      return { lambda, weights: Array.from(r.weights), bias: Array.from(r.bias) };
    }),
    grid: { lambda: grid.lambda, metric: grid.metricName, value: grid.value, ms },
  };
});

const PY = String.raw`
import json, sys, numpy as np
from sklearn.linear_model import Ridge, LogisticRegression
from sklearn.metrics import roc_auc_score, accuracy_score, f1_score
cases = json.load(sys.stdin); out = []
TRAIN, grid = ${TRAIN}, ${JSON.stringify(LAMBDA_GRID)}
def fit(c, lam):
    X = np.array(c['x'], dtype=np.float64).reshape(-1, c['cols']); Xt = X[:TRAIN]
    y = np.array(c['y'])
    if c['kind'] == 'regression':
        m = Ridge(alpha=lam).fit(Xt, y[:TRAIN]); return m.coef_.reshape(-1, 1), np.atleast_1d(m.intercept_)
    if c['kind'] == 'multilabel':
        Y = y.reshape(-1, 3).astype(int); ms = [LogisticRegression(C=1/lam, tol=1e-12, max_iter=100000).fit(Xt, Y[:TRAIN, k]) for k in range(3)]
        return np.stack([m.coef_[0] for m in ms], 1), np.array([m.intercept_[0] for m in ms])
    m = LogisticRegression(C=1/lam, tol=1e-12, max_iter=100000).fit(Xt, y[:TRAIN].astype(int))
    return (m.coef_.T, m.intercept_) if c['kind'] == 'classification' else (m.coef_.T, m.intercept_)
def objective(c, lam, W, b):
    X = np.array(c['x'], dtype=np.float64).reshape(-1, c['cols'])[:TRAIN]; y = np.array(c['y'])[:TRAIN * (3 if c['kind'] == 'multilabel' else 1)]
    z = X @ W + b
    if c['kind'] == 'regression': return float(np.sum((y - z[:, 0]) ** 2) + lam * np.sum(W ** 2))
    if c['kind'] == 'classification':
        m = z.max(1, keepdims=True); lse = np.log(np.exp(z - m).sum(1)) + m[:, 0]
        return float(np.sum(lse - z[np.arange(len(y)), y.astype(int)]) + lam / 2 * np.sum(W ** 2))
    Y = y.reshape(z.shape)
    return float(np.sum(np.logaddexp(0, z) - Y * z) + lam / 2 * np.sum(W ** 2))
def metric(c, W, b):
    X = np.array(c['x'], dtype=np.float64).reshape(-1, c['cols'])[TRAIN:]; y = np.array(c['y'])
    z = X @ W + b
    if c['kind'] == 'regression':
        p = z[:, 0] * c['yStd'] + c['yMean']; t = y[TRAIN:] * c['yStd'] + c['yMean']; return float(np.sqrt(np.mean((p - t) ** 2)))
    if c['kind'] == 'binary': return float(roc_auc_score(y[TRAIN:].astype(int), z[:, 0]))
    if c['kind'] == 'classification': return float(accuracy_score(y[TRAIN:].astype(int), z.argmax(1)))
    Y = y.reshape(-1, 3)[TRAIN:].astype(int); return float(f1_score(Y, (z > 0).astype(int), average='micro'))
for c in cases:
    fixed = []
    for f in c['fixed']:
        W, b = fit(c, f['lambda'])
        Wo = np.array(f['weights']).reshape(W.shape); bo = np.array(f['bias'])
        fixed.append({'lambda': f['lambda'], 'dw': float(np.max(np.abs(W - Wo))), 'db': float(np.max(np.abs(b - bo))), 'wmax': float(np.max(np.abs(W))), 'objective': objective(c, f['lambda'], Wo, bo) - objective(c, f['lambda'], W, b)})
    best = None
    for lam in sorted(grid, reverse=True):
        v = metric(c, *fit(c, lam))
        if best is None or (v < best[1] if c['kind'] == 'regression' else v > best[1]): best = (lam, v)
    out.append({'name': c['name'], 'fixed': fixed, 'lambda': best[0], 'value': best[1]})
print(json.dumps(out))
`;
const theirs = JSON.parse(execFileSync(python, ['-c', PY], { input: JSON.stringify(ours), maxBuffer: 1 << 26 }).toString()) as {
  name: string;
  fixed: { lambda: number; dw: number; db: number; wmax: number; objective: number }[];
  lambda: number;
  value: number;
}[];
let ok = true;
for (const [i, t] of theirs.entries()) {
  const o = ours[i];
    // Where the coefficients differ (flat directions of collinear features), ours must reach at least scikit-learn's objective.
  const converged = t.fixed.every((f) => Math.max(f.dw, f.db) < 1e-3 || f.objective <= 1e-9);
  const same = converged && Math.abs(t.lambda - o.grid.lambda) < 1e-12 && Math.abs(t.value - (o.grid.value ?? NaN)) < 1e-6;
  ok &&= same;
  console.log(
    `${t.name.padEnd(10)} fixed λ ${t.fixed.map((f) => `${f.lambda}: max |Δw| ${f.dw.toExponential(1)} |Δb| ${f.db.toExponential(1)} (|w| ≤ ${f.wmax.toFixed(2)}, objective ours − sklearn ${f.objective.toExponential(1)})`).join('; ')}` +
      ` | grid: ours λ ${o.grid.lambda.toPrecision(3)} ${o.grid.metric} ${o.grid.value?.toFixed(4)} (${o.grid.ms.toFixed(0)} ms), sklearn λ ${t.lambda.toPrecision(3)} ${t.value.toFixed(4)} ${same ? 'OK' : 'DIFFERENT'}`,
  );
}
process.exit(ok ? 0 : 1);
