// One model: per-task metrics, the task-affinity heatmap with the suggested groups, single-task
// baselines and Δm when trained, the aliases of its name (shown, set, moved, removed), and a form to
// try a prediction.
import { api } from '../api.js';
import { add, fill, ago, card, duration, h, num, pct, parseJsonInput, problemBox, shortId, table, taskColor } from '../dom.js';

const EXTRA_METRICS = ['accuracy', 'auc', 'microF1', 'rmse', 'r2'];

export async function modelPage(root, ctx, ref) {
  const m = await api('GET', `/v1/models/${encodeURIComponent(ref)}`, { signal: ctx.signal });
  root.dataset.modelId = m.id;
  const taskIndex = new Map(m.tasks.map((t, i) => [t.name, i]));
  add(root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, m.name, m.version ? h('span', { class: 'muted' }, ` v${m.version}`) : '', h('span', { id: 'model-alias-chips' }, (m.aliases ?? []).map((a) => h('span', { class: 'chip', dataset: { alias: a } }, `@${a}`)))),
      h('div', { class: 'head-side' }, h('a', { class: 'button ghost', href: `#/jobs/${m.jobId}` }, 'Training curves →')),
    ),
    h(
      'div',
      { class: 'meta-line' },
      h('span', {}, 'model ', h('code', {}, shortId(m.id))),
      h('span', { title: m.createdAt }, 'created ', ago(m.createdAt)),
      h('span', {}, 'dataset ', h('a', { href: `#/datasets/${m.datasetId}` }, shortId(m.datasetId))),
      h('span', {}, describeArchitecture(m.architecture)),
      h('span', {}, `loss weighting: ${m.lossWeighting?.strategy ?? 'static'}`),
      h('span', {}, `best epoch ${m.bestEpoch} of ${m.epochsRun}`),
      h('span', {}, `${m.rows.train} train / ${m.rows.validation} validation rows`),
      h('span', {}, `trained in ${duration(m.trainingTimeMs)} · ${num(m.samplesPerSec, 3)} samples/s on ${m.backend}`),
    ),
    m.warnings?.length ? h('div', { class: 'warning' }, h('strong', {}, 'Warnings'), h('ul', {}, m.warnings.map((w) => h('li', {}, w)))) : null,
    card(`Per-task metrics (${m.rows.validation ? 'validation split' : 'training rows'}, epoch ${m.bestEpoch})`, metricsTable(m)),
    h('div', { class: 'grid-2' }, card('Task affinity', affinityView(m.affinity, taskIndex)), card('Multi-task vs single-task', baselinesView(m))),
    card(`Aliases of ${m.name}`, aliasesView(m, ctx)),
    card('Try a prediction', predictForm(m, ctx)),
  );
}

/**
 * The aliases of the model's name (name@alias means a version): a table with a Remove button per
 * alias, and a form pointing an alias (new or existing) at one of the name's versions. Redrawn
 * after every change; the chips in the page head follow.
 */
function aliasesView(m, ctx) {
  const box = h('div', { id: 'model-aliases' }, h('p', { class: 'muted' }, 'Loading…'));
  const name = encodeURIComponent(m.name);
  const render = async () => {
    const [{ aliases }, { models: versions }] = await Promise.all([
      api('GET', `/v1/models/${encodeURIComponent(m.id)}/aliases`, { signal: ctx.signal }),
      api('GET', `/v1/models?name=${name}`, { signal: ctx.signal }),
    ]);
    const out = h('div', { id: 'alias-output' });
    const run = async (work) => {
      try {
        await work();
        await render();
      } catch (err) {
        if (err?.name !== 'AbortError') fill(out, problemBox(err));
      }
    };
    const input = h('input', { id: 'alias-name', placeholder: 'prod', required: true, pattern: '[A-Za-z][A-Za-z0-9_\\-]{0,63}', title: 'a letter, then letters, digits, _ or -', size: 12 });
    const select = h(
      'select',
      { id: 'alias-version' },
      versions.map((v) => h('option', { value: v.version, selected: v.version === m.version }, `v${v.version}${v.id === m.id ? ' (this model)' : ''}`)),
    );
    fill(
      box,
      h('p', { class: 'muted small' }, `${m.name}@<alias> works wherever ${m.name}@<version> does (predict, /v2, export); moving an alias takes effect at once.`),
      aliases.length
        ? table(
            ['alias', 'points at', 'use it as', ''],
            aliases.map((a) =>
              h(
                'tr',
                { dataset: { alias: a.alias, version: a.version } },
                h('td', {}, h('code', {}, a.alias)),
                h('td', {}, a.modelId ? h('a', { href: `#/models/${a.modelId}` }, `v${a.version}`) : `v${a.version} (deleted)`, a.modelId === m.id ? h('span', { class: 'muted' }, ' (this model)') : ''),
                h('td', {}, h('code', {}, `${m.name}@${a.alias}`)),
                h('td', {}, h('button', { type: 'button', class: 'ghost small', dataset: { removeAlias: a.alias }, onclick: () => run(() => api('DELETE', `/v1/models/${name}/aliases/${encodeURIComponent(a.alias)}`, { signal: ctx.signal })) }, 'Remove')),
              ),
            ),
            { id: 'alias-table', class: 'compact' },
          )
        : h('p', { class: 'muted', id: 'alias-none' }, 'No aliases yet.'),
      h(
        'form',
        {
          class: 'row',
          id: 'alias-form',
          onsubmit: (e) => {
            e.preventDefault();
            run(() => api('PUT', `/v1/models/${name}/aliases/${encodeURIComponent(input.value.trim())}`, { body: { version: Number(select.value) }, signal: ctx.signal }));
          },
        },
        h('span', {}, 'Point'),
        input,
        h('span', {}, 'at'),
        select,
        h('button', { type: 'submit', id: 'alias-set' }, 'Set alias'),
      ),
      out,
    );
    const chips = document.getElementById('model-alias-chips');
    if (chips) fill(chips, aliases.filter((a) => a.modelId === m.id).map((a) => h('span', { class: 'chip', dataset: { alias: a.alias } }, `@${a.alias}`)));
  };
  render().catch((err) => err?.name !== 'AbortError' && fill(box, problemBox(err)));
  return box;
}

function describeArchitecture(a) {
  if (!a) return '';
  if (a.type === 'hard-sharing' || a.type === 'soft-sharing') return `${a.type}: shared [${a.sharedLayers.join(', ')}], heads [${a.headLayers.join(', ')}], ${a.activation}`;
  if (a.type === 'mmoe') return `mmoe: ${a.experts} experts [${a.expertLayers.join(', ')}], towers [${a.towerLayers.join(', ')}]`;
  if (a.type === 'ple') return `ple: ${a.levels} level(s), ${a.experts} shared + ${a.taskExperts} task experts [${a.expertLayers.join(', ')}]`;
  return a.type;
}

function metricsTable(m) {
  return table(
    ['task', 'type', 'labels', 'metric', 'value', 'other metrics', 'rows scored', 'loss weight'],
    m.tasks.map((t, i) => {
      const mt = m.metrics[t.name] ?? {};
      const others = EXTRA_METRICS.filter((k) => k !== mt.metricName && mt[k] !== undefined && mt[k] !== null).map((k) => `${k} ${num(mt[k], 3)}`);
      return h(
        'tr',
        { dataset: { task: t.name } },
        h('td', {}, h('span', { class: 'swatch', style: { background: taskColor(i) } }), t.name),
        h('td', {}, t.type),
        h('td', { class: 'small' }, t.labels ? labelList(t.labels) : '—'),
        h('td', {}, mt.metricName ?? '—'),
        h('td', { class: 'num strong' }, num(mt.metric, 4)),
        h('td', { class: 'small' }, others.join(' · ') || '—'),
        h('td', { class: 'num' }, num(mt.count)),
        h('td', { class: 'num' }, num(m.finalWeights?.[t.name] ?? t.weight)),
      );
    }),
    { id: 'model-metrics', class: 'compact' },
  );
}

function labelList(labels) {
  const shown = labels.slice(0, 12).map(String).join(', ');
  return labels.length > 12 ? `${shown}, … (${labels.length})` : shown;
}

/** Diverging colour for a cosine in [-1, 1]: red (conflicting) through white to blue (helping). */
export function affinityColor(v) {
  const t = Math.max(-1, Math.min(1, v ?? 0));
  const [r, g, b] = t >= 0 ? [37, 99, 235] : [220, 38, 38];
  const a = Math.abs(t);
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function affinityView(affinity, taskIndex) {
  if (!affinity) return h('p', { class: 'muted' }, 'Not measured (needs two or more tasks and training.affinity).');
  const n = affinity.tasks.length;
  const groupOf = new Map();
  affinity.groups.forEach((g, gi) => g.forEach((t) => groupOf.set(t, gi)));
  const grid = h('div', { class: 'heatmap', id: 'affinity-heatmap', style: { gridTemplateColumns: `auto repeat(${n}, minmax(48px, 72px))` }, dataset: { tasks: n } });
  grid.append(h('div', { class: 'hm-corner' }));
  affinity.tasks.forEach((t) => grid.append(h('div', { class: 'hm-col', title: t }, t)));
  affinity.tasks.forEach((ti, i) => {
    grid.append(h('div', { class: 'hm-row', title: ti }, ti));
    affinity.tasks.forEach((tj, j) => {
      const v = affinity.matrix[i][j];
      grid.append(
        h(
          'div',
          {
            class: ['hm-cell', Math.abs(v ?? 0) > 0.55 ? 'dark' : '', groupOf.get(ti) === groupOf.get(tj) && i !== j ? 'same-group' : ''],
            style: { background: affinityColor(v) },
            title: `cos(∇${ti}, ∇${tj}) = ${num(v, 3)}`,
            dataset: { cell: `${ti}|${tj}`, row: ti, col: tj, value: v },
          },
          num(v, 2),
        ),
      );
    });
  });
  return h(
    'div',
    {},
    h('p', { class: 'muted small' }, `Mean cosine of the tasks' gradients on the shared weights over ${affinity.samples} sampled steps: blue helps, red conflicts.`),
    grid,
    h('div', { class: 'hm-legend' }, h('span', {}, '−1'), h('div', { class: 'hm-scale' }), h('span', {}, '+1')),
    h(
      'div',
      { class: 'groups', id: 'affinity-groups' },
      h('span', { class: 'small muted' }, `Suggested groups (mean affinity > ${affinity.threshold}): `),
      affinity.groups.map((g, gi) =>
        h(
          'span',
          { class: 'group', dataset: { group: gi } },
          g.map((t) => h('span', { class: 'chip' }, h('span', { class: 'swatch', style: { background: taskColor(taskIndex.get(t) ?? 0) } }), t)),
        ),
      ),
    ),
  );
}

function baselinesView(m) {
  const b = m.baselines;
  if (!b) return h('p', { class: 'muted' }, 'No single-task baselines for this model. Train with ', h('code', {}, '"training": {"baselines": true}'), ' to compare each task against a model trained on it alone.');
  const better = b.deltaM !== null && b.deltaM >= 0;
  return h(
    'div',
    { id: 'baselines' },
    h('div', { class: ['delta-m', better ? 'good' : 'bad'], dataset: { deltaM: b.deltaM } }, h('span', { class: 'small muted' }, 'MTL gain Δm '), h('strong', {}, pct(b.deltaM))),
    table(
      ['task', 'metric', 'multi-task', 'single-task', 'gain', 'linear'],
      Object.entries(b.tasks).map(([task, r]) =>
        h(
          'tr',
          { dataset: { task } },
          h('td', {}, task),
          h('td', {}, r.metricName),
          h('td', { class: 'num' }, num(r.mtl, 4)),
          h('td', { class: 'num' }, num(r.stl, 4)),
          h('td', { class: ['num', r.gain === null ? '' : r.gain >= 0 ? 'good-text' : 'bad-text'] }, pct(r.gain)),
          h('td', { class: 'num', title: r.linear ? `λ ${r.linear.lambda}` : '' }, num(r.linear?.value ?? null, 4)),
        ),
      ),
      { class: 'compact' },
    ),
    h('p', { class: 'muted small' }, 'Gain: relative improvement of the multi-task model over a single-task model with the same trunk and budget (sign flipped for rmse). Δm is their mean. Linear: each task\'s ridge / logistic / softmax regression on the same split, regularisation chosen on the validation split.'),
  );
}

/** An instance with every feature: numbers at their training mean, categories at their first value. */
export function exampleInstance(m) {
  const encoders = new Map((m.preprocessing?.features ?? []).map((f) => [f.name, f]));
  return Object.fromEntries(
    m.features.map((f) => {
      const enc = encoders.get(f.name);
      if (f.type === 'categorical') return [f.name, enc?.categories?.[0] ?? ''];
      return [f.name, enc && typeof enc.mean === 'number' ? Number(enc.mean.toFixed(2)) : 0];
    }),
  );
}

function predictForm(m, ctx) {
  const text = JSON.stringify({ instances: [exampleInstance(m)] }, null, 1).replace(/\n {2,}/g, ' ').replace(/\n\s*/g, '\n');
  const input = h('textarea', { id: 'predict-input', rows: 7, spellcheck: 'false', class: 'mono' });
  input.value = text;
  const out = h('div', { id: 'predict-output' });
  const button = h('button', { type: 'submit', id: 'predict-button' }, 'Predict');
  const form = h(
    'form',
    {
      class: 'predict',
      onsubmit: async (e) => {
        e.preventDefault();
        const body = parseJsonInput(input.value, out, 'Not JSON');
        if (body === undefined) return;
        button.disabled = true;
        fill(out, h('p', { class: 'muted' }, 'Predicting…'));
        try {
          const res = await api('POST', `/v1/models/${m.id}/predict`, { body, signal: ctx.signal });
          fill(out, ...res.predictions.map((p, i) => predictionView(m, p, i, res.predictions.length)));
        } catch (err) {
          fill(out, problemBox(err));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('p', { class: 'muted small' }, `POST /v1/models/${shortId(m.id)}…/predict with one or more instances (each names every feature; null for missing). Prefilled with the training means.`),
    input,
    h('div', { class: 'row' }, button),
  );
  return h('div', {}, form, out);
}

function predictionView(m, p, i, count) {
  return h(
    'div',
    { class: 'prediction', dataset: { instance: i } },
    count > 1 ? h('h3', {}, `Instance ${i + 1}`) : null,
    table(
      ['task', 'prediction', 'probabilities'],
      m.tasks.map((t, ti) => {
        const r = p[t.name] ?? {};
        let answer;
        if ('value' in r) answer = num(r.value, 4);
        else if ('labels' in r) answer = r.labels.length ? r.labels.join(', ') : '(none)';
        else answer = String(r.label);
        return h(
          'tr',
          { dataset: { predictionTask: t.name } },
          h('td', {}, h('span', { class: 'swatch', style: { background: taskColor(ti) } }), t.name),
          h('td', { class: 'strong' }, answer),
          h('td', {}, r.probabilities ? probBars(r.probabilities, taskColor(ti)) : h('span', { class: 'muted' }, '—')),
        );
      }),
      { class: 'compact' },
    ),
  );
}

function probBars(probs, color) {
  const top = Object.entries(probs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4);
  return h(
    'div',
    { class: 'probs' },
    top.map(([label, v]) =>
      h('div', { class: 'prob' }, h('span', { class: 'prob-label' }, label), h('span', { class: 'prob-bar' }, h('span', { style: { width: `${(v * 100).toFixed(1)}%`, background: color } })), h('span', { class: 'small num' }, v.toFixed(3))),
    ),
  );
}
