// Job list: every job with its state and progress, refreshed every 2 seconds.
import { api } from '../api.js';
import { add, fill, ago, duration, h, problemBox, shortId, stateBadge, table } from '../dom.js';

const REFRESH_MS = 2000;

export async function jobsPage(root, ctx) {
  const status = h('span', { class: 'muted small', id: 'jobs-updated' });
  const body = h('div', { id: 'jobs' });
  add(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Training jobs'), h('div', { class: 'head-side' }, status, h('a', { class: 'button', href: '#/datasets' }, 'New job from a dataset'))),
    body,
  );

  const refresh = async () => {
    try {
      const { jobs } = await api('GET', '/v1/jobs', { signal: ctx.signal });
      fill(body, jobs.length ? jobTable(jobs) : emptyState());
      status.textContent = `${jobs.length} job${jobs.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (ctx.signal.aborted) return;
      fill(body, problemBox(err));
    }
  };
  await refresh();
  ctx.every(REFRESH_MS, () => document.visibilityState === 'visible' && refresh());
}

function jobTable(jobs) {
  return table(
    ['job', 'state', 'progress', 'tasks', 'created', 'took', 'model'],
    jobs.map((j) => {
      const tasks = Object.keys(j.history.at(-1)?.tasks ?? {});
      const took = j.startedAt ? (j.finishedAt ? Date.parse(j.finishedAt) : Date.now()) - Date.parse(j.startedAt) : null;
      return h(
        'tr',
        { dataset: { jobId: j.id, state: j.state } },
        h('td', {}, h('a', { href: `#/jobs/${j.id}` }, j.name), h('div', { class: 'muted small mono' }, shortId(j.id))),
        h('td', {}, stateBadge(j.state), j.error && j.state === 'failed' ? h('div', { class: 'small error-text', title: j.error }, truncate(j.error, 80)) : null),
        h('td', {}, progressBar(j.progress)),
        h('td', { class: 'small' }, tasks.length ? tasks.join(', ') : '—'),
        h('td', { class: 'small', title: j.createdAt }, ago(j.createdAt)),
        h('td', { class: 'small' }, took === null ? '—' : duration(took)),
        h('td', {}, j.state === 'succeeded' && j.modelId ? h('a', { href: `#/models/${j.modelId}` }, 'open model') : h('span', { class: 'muted' }, '—')),
      );
    }),
    { class: 'list' },
  );
}

export function progressBar(progress) {
  const p = Math.max(0, Math.min(100, progress?.percent ?? 0));
  return h(
    'div',
    { class: 'progress', title: `${p.toFixed(0)}%` },
    h('div', { class: 'progress-track' }, h('div', { class: 'progress-fill', style: { width: `${p}%` } })),
    h('span', { class: 'small muted' }, progress?.epochs ? `epoch ${progress.epoch}/${progress.epochs}` : ''),
  );
}

function emptyState() {
  return h('div', { class: 'empty' }, h('p', {}, 'No training jobs yet.'), h('p', {}, 'Upload a dataset on the ', h('a', { href: '#/datasets' }, 'Datasets'), ' page and start one from there.'));
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
