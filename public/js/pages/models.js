// Model list: each model with its tasks' validation metrics and the MTL gain when baselines were trained.
import { api } from '../api.js';
import { add, ago, h, num, pct, shortId, table } from '../dom.js';

export async function modelsPage(root, ctx) {
  const { models } = await api('GET', '/v1/models', { signal: ctx.signal });
  add(root, h('div', { class: 'page-head' }, h('h1', {}, 'Models'), h('span', { class: 'muted small' }, `${models.length} model${models.length === 1 ? '' : 's'}`)));
  if (models.length === 0) {
    add(root, h('div', { class: 'empty' }, h('p', {}, 'No trained models yet. A job that succeeds saves one.')));
    return;
  }
  add(root,
    table(
      ['model', 'tasks (validation metric)', 'Δm vs single-task', 'architecture', 'created', 'backend'],
      models.map((m) =>
        h(
          'tr',
          { dataset: { modelId: m.id } },
          h('td', {}, h('a', { href: `#/models/${m.id}` }, m.name, m.version ? ` v${m.version}` : ''), h('div', { class: 'muted small mono' }, shortId(m.id))),
          h(
            'td',
            { class: 'small' },
            m.tasks.map((t) => h('span', { class: 'chip' }, `${t.name} `, h('b', {}, `${m.metrics[t.name]?.metricName ?? ''} ${num(m.metrics[t.name]?.metric, 3)}`))),
          ),
          h('td', { class: 'num' }, m.baselines ? pct(m.baselines.deltaM) : h('span', { class: 'muted' }, '—')),
          h('td', { class: 'small' }, m.architecture?.type ?? '—'),
          h('td', { class: 'small', title: m.createdAt }, ago(m.createdAt)),
          h('td', { class: 'small' }, m.backend),
        ),
      ),
      { class: 'list' },
    ),
  );
}
