// One job: state and progress, live per-task training/validation curves and loss weights over SSE, cancel.
import { api, eventStream } from '../api.js';
import { epochChart } from '../charts.js';
import { add, fill, ago, card, duration, h, num, problemBox, shortId, stateBadge, table, taskColor } from '../dom.js';
import { progressBar } from './jobs.js';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export async function jobPage(root, ctx, id) {
  let job = await api('GET', `/v1/jobs/${encodeURIComponent(id)}`, { signal: ctx.signal });
  const history = [...job.history];
  root.dataset.jobId = job.id;

  const head = h('div', { class: 'page-head' });
  const meta = h('div', { class: 'meta-line' });
  const notice = h('div');
  const live = h('span', { class: 'live', dataset: { stream: 'idle' } });
  const latest = h('div');
  const chartsArea = h('div', { class: 'charts-area' }, h('p', { class: 'muted waiting' }, 'Waiting for the first epoch…'));
  const logs = h('details', { class: 'card logs' }, h('summary', {}, 'Worker log'), h('pre', { class: 'log-lines' }, ''));
  logs.addEventListener('toggle', () => logs.open && loadLogs());
  add(root, head, meta, notice, chartsArea, latest, logs);

  let charts = null;
  const ensureCharts = (tasks) => {
    if (charts) return charts;
    const total = epochChart({
      key: 'loss:total',
      title: 'Weighted loss Σ wᵢ·Lᵢ',
      series: [
        { label: 'train', color: '#111827' },
        { label: 'validation', color: '#111827', dash: [6, 4] },
      ],
    });
    const weights = epochChart({ key: 'weights', title: 'Loss weights per task', series: tasks.map((t, i) => ({ label: t, color: taskColor(i) })) });
    // Each pair of tasks: how their gradients on the shared weights agreed, epoch by epoch (only when the job measured affinity).
    const pairs = history.some((e) => e.affinity) ? tasks.flatMap((a, i) => tasks.slice(i + 1).map((b) => [a, b])) : [];
    const affinity = pairs.length > 0
      ? epochChart({ key: 'affinity', title: 'Task affinity per epoch (gradient cosine on the shared weights)', series: pairs.map(([a, b], k) => ({ label: `${a} · ${b}`, color: taskColor(k) })) })
      : null;
    const perTask = tasks.map((task, i) => {
      const color = taskColor(i);
      const metricName = history[0]?.tasks[task]?.metricName ?? 'metric';
      const loss = epochChart({ key: `loss:${task}`, title: 'loss', series: [{ label: 'train', color }, { label: 'validation', color, dash: [6, 4] }] });
      const metric = epochChart({ key: `metric:${task}`, title: metricName, series: [{ label: 'train', color }, { label: 'validation', color, dash: [6, 4] }] });
      return {
        task,
        loss,
        metric,
        el: h('section', { class: 'card task-card', dataset: { task } }, h('h3', {}, h('span', { class: 'swatch', style: { background: color } }), task), h('div', { class: 'pair' }, loss.el, metric.el)),
      };
    });
    fill(chartsArea,
      h('div', { class: 'grid-2' }, card(null, total.el), card(null, weights.el)),
      affinity ? h('div', { class: 'grid-2' }, card(null, affinity.el)) : null,
      h('h2', { class: 'section-title' }, 'Per task: training (solid) and validation (dashed)'),
      h('div', { class: 'grid-2' }, perTask.map((p) => p.el)),
    );
    charts = { total, weights, affinity, pairs, perTask, tasks };
    ctx.onCleanup(() => [total, weights, affinity, ...perTask.flatMap((p) => [p.loss, p.metric])].forEach((c) => c?.destroy()));
    return charts;
  };

  const drawCharts = () => {
    root.dataset.epochs = String(history.length);
    if (history.length === 0) return;
    const tasks = Object.keys(history[0].tasks);
    const c = ensureCharts(tasks);
    const xs = history.map((e) => e.epoch);
    c.total.update(xs, [history.map((e) => e.loss), history.map((e) => e.valLoss)]);
    c.weights.update(xs, tasks.map((t) => history.map((e) => e.weights?.[t] ?? null)));
    c.affinity?.update(xs, c.pairs.map(([a, b]) => history.map((e) => e.affinity?.[a]?.[b] ?? null)));
    for (const p of c.perTask) {
      const m = history.map((e) => e.tasks[p.task] ?? {});
      p.loss.update(xs, [m.map((x) => x.loss ?? null), m.map((x) => x.valLoss ?? null)]);
      p.metric.update(xs, [m.map((x) => x.metric ?? null), m.map((x) => x.valMetric ?? null)]);
    }
    fill(latest, latestTable(history.at(-1), tasks));
  };

  const drawHead = () => {
    root.dataset.state = job.state;
    const cancellable = !TERMINAL.has(job.state);
    fill(head,
      h('h1', {}, job.name, ' ', stateBadge(job.state)),
      h(
        'div',
        { class: 'head-side' },
        live,
        cancellable ? h('button', { id: 'cancel-job', class: 'danger', onclick: cancel }, 'Cancel job') : null,
        job.state === 'succeeded' && job.modelId ? h('a', { class: 'button', id: 'open-model', href: `#/models/${job.modelId}` }, 'Open model →') : null,
      ),
    );
    const took = job.startedAt ? (job.finishedAt ? Date.parse(job.finishedAt) : Date.now()) - Date.parse(job.startedAt) : null;
    fill(meta,
      progressBar(job.progress),
      h('span', {}, 'job ', h('code', {}, shortId(job.id))),
      h('span', {}, 'dataset ', h('a', { href: `#/datasets/${job.datasetId}` }, shortId(job.datasetId))),
      h('span', { title: job.createdAt }, 'created ', ago(job.createdAt)),
      took !== null ? h('span', {}, 'ran ', duration(took)) : null,
      job.attempts > 1 ? h('span', {}, `attempt ${job.attempts}`) : null,
      h('span', {}, 'model ', job.state === 'succeeded' ? h('a', { href: `#/models/${job.modelId}` }, shortId(job.modelId)) : h('code', { class: 'muted' }, shortId(job.modelId))),
      job.study ? h('span', {}, 'study ', h('a', { href: `#/studies/${job.study.studyId}`, id: 'job-study-link' }, `${shortId(job.study.studyId)} · ${job.study.trialId}`)) : null,
    );
    fill(notice, job.error && job.error !== job.state ? h('div', { class: job.state === 'failed' ? 'problem' : 'warning', role: 'alert' }, h('strong', {}, `Job ${job.state}`), h('p', {}, job.error)) : null);
  };

  async function cancel(event) {
    event.target.disabled = true;
    try {
      job = await api('POST', `/v1/jobs/${job.id}/cancel`, { signal: ctx.signal });
      drawHead();
    } catch (err) {
      fill(notice, problemBox(err));
      event.target.disabled = false;
    }
  }

  async function loadLogs() {
    try {
      const { logs: lines } = await api('GET', `/v1/jobs/${job.id}/logs`, { signal: ctx.signal });
      logs.querySelector('pre').textContent = lines.join('\n') || '(no log lines yet)';
    } catch (err) {
      fill(logs.querySelector('pre'), problemBox(err));
    }
  }

  drawHead();
  drawCharts();
  if (TERMINAL.has(job.state)) {
    live.dataset.stream = 'closed';
    return;
  }

  // Live: only the epochs after the ones already drawn (Last-Event-ID), then state changes until `end`.
  const stream = eventStream(`/v1/jobs/${job.id}/events`, {
    lastEventId: history.at(-1)?.epoch ?? 0,
    onStatus: (s) => {
      live.dataset.stream = s;
      live.textContent = { connecting: 'connecting…', live: '● live', reconnecting: 'reconnecting…', closed: '' }[s];
    },
    onError: (err) => fill(notice, problemBox(err)),
    onEvent: async (type, data) => {
      if (type === 'epoch') {
        if (history.length && data.epoch <= history.at(-1).epoch) return;
        history.push(data);
        job = { ...job, progress: { epoch: data.epoch, epochs: data.epochs, percent: (100 * data.epoch) / data.epochs } };
        drawCharts();
        drawHead();
      } else if (type === 'state') {
        job = { ...job, state: data.state, progress: data.progress ?? job.progress, modelId: data.modelId ?? job.modelId, error: data.error ?? null };
        drawHead();
      } else if (type === 'end') {
        try {
          job = await api('GET', `/v1/jobs/${job.id}`, { signal: ctx.signal });
        } catch {
          job = { ...job, state: data.state, error: data.error ?? null };
        }
        drawHead();
        if (logs.open) loadLogs();
      }
    },
  });
  ctx.onCleanup(() => stream.close());
}

function latestTable(epoch, tasks) {
  return card(
    `Epoch ${epoch.epoch} of ${epoch.epochs}`,
    h('p', { class: 'muted small' }, `${num(epoch.samplesPerSec, 3)} samples/s · ${Math.round(epoch.durationMs)} ms · weighted loss ${num(epoch.loss)} (validation ${num(epoch.valLoss)})`),
    table(
      ['task', 'loss weight', 'loss', 'val loss', 'metric', 'train', 'validation'],
      tasks.map((t, i) => {
        const m = epoch.tasks[t];
        return h(
          'tr',
          { dataset: { task: t } },
          h('td', {}, h('span', { class: 'swatch', style: { background: taskColor(i) } }), t),
          h('td', { class: 'num' }, num(epoch.weights?.[t])),
          h('td', { class: 'num' }, num(m.loss)),
          h('td', { class: 'num' }, num(m.valLoss)),
          h('td', {}, m.metricName),
          h('td', { class: 'num' }, num(m.metric)),
          h('td', { class: 'num' }, num(m.valMetric)),
        );
      }),
      { class: 'compact' },
    ),
  );
}
