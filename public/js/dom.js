// Small DOM helpers: build elements from data without innerHTML (names in datasets may be anything).

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open', 'multiple', 'readOnly']);

/** h('a', {href, class, dataset: {…}, onclick}, ...children): an element; null/false children and props are skipped. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) dv !== undefined && dv !== null && (el.dataset[dk] = String(dv));
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A number for people: a few significant digits, '—' for missing. */
export function num(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

export function pct(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(digits)}%`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : '—';
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function ago(iso) {
  if (!iso) return '—';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s % 60)} s`;
}

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, dataset: { state } }, state);
}

/** An API error (problem+json) as a box naming each bad field. */
export function problemBox(err) {
  const p = err?.problem;
  const title = p?.title ? `${p.status ?? ''} ${p.title}`.trim() : err?.message ?? String(err);
  return h(
    'div',
    { class: 'problem', role: 'alert' },
    h('strong', {}, title),
    p?.detail ? h('p', {}, p.detail) : null,
    Array.isArray(p?.errors) && p.errors.length ? h('ul', {}, p.errors.map((e) => h('li', {}, h('code', {}, e.pointer || '/'), ' ', e.detail))) : null,
  );
}

/** JSON typed into a text box, or undefined after showing in `out` why it is not JSON. */
export function parseJsonInput(text, out, title) {
  try {
    return JSON.parse(text);
  } catch (err) {
    fill(out, problemBox({ problem: { title, detail: err.message } }));
    return undefined;
  }
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

export function table(headers, rows, props = {}) {
  return h('table', props, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows));
}

/** Colours for tasks, in order; stable for a task's index within a model or job. */
export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
export const taskColor = (i) => PALETTE[i % PALETTE.length];

/** Replaces an element's children (null/false skipped, unlike replaceChildren which would print "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Appends children (null/false skipped). */
export function add(el, ...children) {
  return append(el, children);
}
