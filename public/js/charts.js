// Line charts with uPlot (served from node_modules as an ES module). Each chart's element carries
// data-chart (what it shows), data-points (epochs drawn) and data-series (its series) for tests and tools.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

const HEIGHT = 190;

/**
 * A chart of values per epoch. series: [{label, color, dash?}]. Returns {el, update(xs, ys[])}.
 * The chart sizes itself to its element's width and follows it.
 */
export function epochChart({ key, title, series, yLabel = '', height = HEIGHT }) {
  const plotEl = h('div', { class: 'plot' });
  const el = h(
    'figure',
    { class: 'chart', dataset: { chart: key, points: 0, series: series.map((s) => s.label).join(',') } },
    h('figcaption', {}, title),
    plotEl,
  );
  const opts = {
    width: 400,
    height,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: false } },
    axes: [
      { label: 'epoch', labelSize: 18, size: 34, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d5d9e0' } },
      { label: yLabel, labelSize: yLabel ? 18 : 0, size: 52, grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d5d9e0' }, values: (_u, vals) => vals.map((v) => fmt(v)) },
    ],
    series: [
      { label: 'epoch' },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: (u) => u.data[0].length <= 40, size: 5, fill: s.color },
        value: (_u, v) => (v === null || v === undefined ? '—' : fmt(v)),
      })),
    ],
  };
  const empty = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, empty, plotEl);
  let width = 0;
  const fit = () => {
    const w = Math.floor(plotEl.clientWidth);
    if (w > 0 && w !== width) {
      width = w;
      plot.setSize({ width: w, height });
    }
  };
  const observer = new ResizeObserver(fit);
  observer.observe(plotEl);
  return {
    el,
    /** xs: epochs; ys: one array per series (null for a missing value). */
    update(xs, ys) {
      plot.setData([xs, ...ys]);
      el.dataset.points = String(xs.length);
      fit();
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

function fmt(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000 || a < 0.001) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}
