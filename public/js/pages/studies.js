// Studies: the list (#/studies) and one study (#/studies/<id>): leaderboard, per-task bars against
// both references, the Pareto front for any two tasks, and the chosen grouping as a tree.
import { api } from '../api.js';
import { add, ago, card, fill, h, num, pct, problemBox, shortId, stateBadge, table, taskColor } from '../dom.js';

const REFRESH_MS = 2000;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const SVG = 'http://www.w3.org/2000/svg';

export async function studiesPage(root, ctx) {
  const body = h('div', { id: 'studies' });
  add(root, h('div', { class: 'page-head' }, h('h1', {}, 'Studies')), body);
  const refresh = async () => {
    try {
      const { studies } = await api('GET', '/v1/studies', { signal: ctx.signal });
      fill(
        body,
        studies.length
          ? table(
              ['study', 'state', 'progress', 'created', 'best model'],
              studies.map((s) =>
                h(
                  'tr',
                  { dataset: { studyId: s.id, state: s.state } },
                  h('td', {}, h('a', { href: `#/studies/${s.id}` }, s.name), h('div', { class: 'muted small mono' }, shortId(s.id))),
                  h('td', {}, stateBadge(s.state)),
                  h('td', { class: 'small' }, `${s.progress.done}/${s.progress.total} jobs`),
                  h('td', { class: 'small', title: s.createdAt }, ago(s.createdAt)),
                  h('td', {}, s.modelId ? h('a', { href: `#/models/${s.modelId}` }, 'open model') : h('span', { class: 'muted' }, '—')),
                ),
              ),
              { class: 'list' },
            )
          : h('div', { class: 'empty' }, h('p', {}, 'No studies yet.'), h('p', {}, 'Start one with POST /v1/studies (see the API docs).')),
      );
    } catch (err) {
      if (!ctx.signal.aborted) fill(body, problemBox(err));
    }
  };
  await refresh();
  ctx.every(REFRESH_MS, () => document.visibilityState === 'visible' && refresh());
}

export async function studyPage(root, ctx, id) {
  const head = h('div', { class: 'page-head' });
  const sections = h('div', { id: 'study' });
  add(root, head, sections);
  const pareto = { x: null, y: null };
  let last = '';
  const refresh = async () => {
    const study = await api('GET', `/v1/studies/${encodeURIComponent(id)}`, { signal: ctx.signal });
    const text = JSON.stringify(study);
    if (text === last) return study;
    last = text;
    const tasks = study.tasks.map((t) => t.name);
    pareto.x ??= tasks[0];
    pareto.y ??= tasks[1] ?? tasks[0];
    fill(head, h('h1', {}, 'Study ', h('span', { class: 'mono' }, study.name)), h('div', { class: 'head-side' }, stateBadge(study.state), h('span', { class: 'small muted', id: 'study-progress' }, `${study.progress.done}/${study.progress.total} jobs`), TERMINAL.has(study.state) ? null : cancelButton(study)));
    fill(
      sections,
      summaryCard(study),
      leaderboard(study, tasks),
      referenceBars(study, tasks),
      paretoCard(study, tasks, pareto, () => {
        last = '';
        refresh();
      }),
      groupingCard(study),
    );
    return study;
  };
  const study = await refresh();
  if (!TERMINAL.has(study.state))
    ctx.every(REFRESH_MS, async () => {
      try {
        await refresh();
      } catch (err) {
        if (!ctx.signal.aborted) console.warn(err);
      }
    });
}

function cancelButton(study) {
  return h('button', {
    type: 'button',
    class: 'danger',
    id: 'study-cancel',
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api('POST', `/v1/studies/${study.id}/cancel`);
      } catch (err) {
        e.target.after(problemBox(err));
      }
    },
  }, 'Cancel study');
}

function summaryCard(study) {
  const best = study.best;
  return card(
    'Result',
    h(
      'dl',
      { class: 'facts', id: 'study-summary' },
      h('dt', {}, 'best trial'),
      h('dd', {}, best ? best.trialId : '—'),
      h('dt', {}, 'model'),
      h('dd', {}, best ? h('a', { href: `#/models/${best.modelId}`, id: 'study-model-link' }, `${study.name} v${best.version ?? '?'}`) : '—'),
      h('dt', {}, 'Δm vs references'),
      h('dd', {}, best ? pct(best.deltaM) : '—'),
      h('dt', {}, 'grouping'),
      h('dd', {}, study.grouping ? study.grouping.map((g) => `[${g.join(', ')}]`).join(' ') : '—'),
      h('dt', {}, 'reference job'),
      h('dd', {}, study.referenceJob ? h('a', { href: `#/jobs/${study.referenceJob.jobId}` }, shortId(study.referenceJob.jobId)) : '—'),
      h('dt', {}, 'rungs (epochs)'),
      h('dd', {}, study.rungs.join(' → ')),
      study.error ? [h('dt', {}, 'error'), h('dd', { class: 'error-text' }, study.error)] : null,
    ),
  );
}

function leaderboard(study, tasks) {
  const rows = [...study.trials].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity) || a.id.localeCompare(b.id));
  return card(
    'Leaderboard (validation split)',
    table(
      ['trial', 'spec', ...tasks.map((t) => `${t} (${study.trials.find((x) => x.validation[t])?.validation[t].metric ?? ''})`), 'score', 'state', 'stopped early', 'job', 'model'],
      rows.map((t) =>
        h(
          'tr',
          { dataset: { trialId: t.id, state: t.state }, class: study.best?.trialId === t.id ? 'best' : null },
          h('td', { class: 'mono' }, t.id, study.best?.trialId === t.id ? ' ★' : ''),
          h('td', { class: 'small' }, t.summary),
          tasks.map((k) => h('td', { class: 'num' }, num(t.validation[k]?.value))),
          h('td', { class: 'num' }, t.score === null ? '—' : pct(t.score)),
          h('td', {}, stateBadge(t.state)),
          h('td', {}, t.stoppedEarly ? 'yes' : ''),
          h('td', {}, t.jobId ? h('a', { href: `#/jobs/${t.jobId}` }, shortId(t.jobId)) : '—'),
          h('td', {}, t.modelId ? h('a', { href: `#/models/${t.modelId}` }, shortId(t.modelId)) : '—'),
        ),
      ),
      { class: 'list', id: 'study-leaderboard' },
    ),
  );
}

function referenceBars(study, tasks) {
  const best = study.trials.find((t) => t.id === study.best?.trialId);
  const blocks = tasks.map((task, i) => {
    const ref = study.references[task] ?? {};
    const items = [
      ['best', best?.validation[task]?.value, taskColor(i)],
      ['linear', ref.linear?.value, '#6b7280'],
      ['single-task', ref.single?.value, '#9ca3af'],
    ];
    const metric = best?.validation[task]?.metric ?? ref.single?.metric ?? ref.linear?.metric ?? '';
    const max = Math.max(...items.map(([, v]) => (typeof v === 'number' ? Math.abs(v) : 0)), 1e-9);
    return h(
      'div',
      { class: 'ref-bars', dataset: { task } },
      h('h3', {}, task, h('span', { class: 'muted small' }, ` ${metric}${metric === 'rmse' ? ' (lower is better)' : ''}`)),
      items.map(([label, v, color]) =>
        h('div', { class: 'prob' }, h('span', { class: 'prob-label' }, label), h('span', { class: 'prob-bar' }, h('span', { style: { width: `${typeof v === 'number' ? (Math.abs(v) / max) * 100 : 0}%`, background: color } })), h('span', { class: 'small num' }, num(v))),
      ),
    );
  });
  return card('Every task against its references', h('div', { id: 'study-references' }, blocks));
}

function paretoCard(study, tasks, sel, redraw) {
  const select = (which) =>
    h(
      'select',
      { id: `pareto-${which}`, onchange: (e) => ((sel[which] = e.target.value), redraw()) },
      tasks.map((t) => h('option', { value: t, selected: sel[which] === t }, t)),
    );
  const points = study.trials.filter((t) => typeof t.gains[sel.x] === 'number' && typeof t.gains[sel.y] === 'number').map((t) => ({ id: t.id, x: t.gains[sel.x], y: t.gains[sel.y] }));
  const front = points.filter((p) => !points.some((q) => q !== p && q.x >= p.x && q.y >= p.y && (q.x > p.x || q.y > p.y))).sort((a, b) => a.x - b.x);
  const W = 420;
  const H = 300;
  const pad = 40;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('id', 'pareto-plot');
  svg.setAttribute('width', String(W));
  svg.setAttribute('height', String(H));
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  if (points.length > 0) {
    const xs = points.map((p) => p.x);
    const ys = points.map((p) => p.y);
    const [x0, x1] = [Math.min(0, ...xs), Math.max(0, ...xs)];
    const [y0, y1] = [Math.min(0, ...ys), Math.max(0, ...ys)];
    const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
    const sy = (v) => H - pad - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
    el('line', { x1: sx(0), x2: sx(0), y1: pad / 2, y2: H - pad, stroke: '#d1d5db' });
    el('line', { x1: pad, x2: W - pad / 2, y1: sy(0), y2: sy(0), stroke: '#d1d5db' });
    el('polyline', { points: front.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' '), fill: 'none', stroke: '#2563eb', 'stroke-width': 1.5 });
    for (const p of points) {
      const onFront = front.includes(p);
      el('circle', { cx: sx(p.x), cy: sy(p.y), r: onFront ? 5 : 3.5, fill: onFront ? '#2563eb' : '#9ca3af', 'data-trial': p.id, 'data-front': onFront });
      el('text', { x: sx(p.x) + 6, y: sy(p.y) - 6, 'font-size': 10, fill: '#374151' }, p.id);
    }
    el('text', { x: W / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 11 }, `gain on ${sel.x} vs its reference`);
    el('text', { x: 12, y: H / 2, 'text-anchor': 'middle', 'font-size': 11, transform: `rotate(-90 12 ${H / 2})` }, `gain on ${sel.y}`);
  }
  return card(
    'Pareto front for two tasks',
    h('div', { class: 'row' }, h('label', {}, 'x ', select('x')), h('label', {}, ' y ', select('y'))),
    points.length ? svg : h('p', { class: 'muted' }, 'No finished trial yet.'),
    h('p', { class: 'small muted', id: 'pareto-front' }, `front: ${front.map((p) => p.id).join(', ') || '—'}`),
  );
}

function groupingCard(study) {
  const best = study.trials.find((t) => t.id === study.best?.trialId);
  const arch = best?.architecture;
  let tree;
  if (arch?.type === 'branched' && arch.tree) tree = nodeView(arch.tree, 'input');
  else if (study.grouping) tree = nodeView({ layers: [], branches: study.grouping.map((g) => ({ layers: ['…'], tasks: g })) }, 'input');
  return card(
    'Chosen grouping',
    tree ? h('ul', { class: 'tree', id: 'study-grouping' }, tree) : h('p', { class: 'muted' }, 'Not chosen yet.'),
    study.affinity ? h('p', { class: 'small muted' }, `Affinity suggested: ${study.affinity.groups.map((g) => `[${g.join(', ')}]`).join(' ')}`) : null,
  );
}

function nodeView(node, label) {
  const layers = node.layers?.length ? `Dense ${node.layers.join('→')}` : 'no layers';
  return h(
    'li',
    {},
    h('span', { class: 'tree-node' }, label, ' · ', layers),
    h('ul', {}, (node.tasks ?? []).map((t) => h('li', { dataset: { task: t } }, h('span', { class: 'tree-task' }, `head ${t}`))), (node.branches ?? []).map((b, i) => nodeView(b, `branch ${i + 1}`))),
  );
}
