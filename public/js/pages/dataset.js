// One dataset: its inferred columns, and a form that writes a training spec (editable as JSON) and queues the job.
import { api } from '../api.js';
import { add, fill, ago, bytes, card, h, num, parseJsonInput, problemBox, shortId, table } from '../dom.js';
import { guessTaskType } from '../column-guess.js';

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const TASK_TYPES = ['classification', 'binary', 'multilabel', 'regression'];
const ARCHITECTURES = ['hard-sharing', 'soft-sharing', 'mmoe', 'ple'];
const STRATEGIES = ['static', 'uncertainty', 'dwa', 'gradnorm', 'pcgrad', 'mgda', 'cagrad', 'imtl', 'nash-mtl', 'famo', 'aligned-mtl', 'rlw', 'db-mtl'];

/** A valid task/model name from any column or file name. */
export function safeName(s, fallback = 'task') {
  let n = String(s).replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64);
  if (!/^[A-Za-z]/.test(n)) n = `${fallback}_${n}`.slice(0, 64);
  return NAME_RE.test(n) ? n : fallback;
}

/**
 * Guessed roles: with a numbered family of numeric inputs (p0…p63, x1…x20), every other column is a
 * task; otherwise non-numeric columns with few values are tasks and the rest are features.
 */
export function guessRoles(columns) {
  const family = new Map();
  for (const c of columns) {
    const m = c.type === 'numeric' && c.name.match(/^(.*?)[_-]?\d+$/);
    if (m) family.set(m[1], [...(family.get(m[1]) ?? []), c.name]);
  }
  const inFamily = new Set([...family.values()].filter((names) => names.length >= 3).flat());
  return Object.fromEntries(
    columns.map((c) => {
      if (c.type === 'empty') return [c.name, 'ignore'];
      if (inFamily.size) return [c.name, inFamily.has(c.name) ? 'feature' : 'task'];
      const labelLike = c.type === 'boolean' || c.type === 'multilabel' || (c.type === 'categorical' && c.distinct <= 50);
      return [c.name, labelLike ? 'task' : 'feature'];
    }),
  );
}

export async function datasetPage(root, ctx, id) {
  const ds = await api('GET', `/v1/datasets/${encodeURIComponent(id)}`, { signal: ctx.signal });
  root.dataset.datasetId = ds.id;
  const roles = guessRoles(ds.columns);
  const taskTypes = Object.fromEntries(ds.columns.map((c) => [c.name, guessTaskType(c)]));

  const specInput = h('textarea', { id: 'spec-input', rows: 16, spellcheck: 'false', class: 'mono' });
  const submitOut = h('div', { id: 'spec-output' });
  const field = (name, label, props) => h('label', {}, label, h('input', { name, id: `spec-${name}`, ...props, oninput: writeSpec }));
  const select = (name, label, options, value) =>
    h('label', {}, label, h('select', { name, id: `spec-${name}`, onchange: writeSpec }, options.map((o) => h('option', { value: o, selected: o === value }, o))));
  const form = h(
    'form',
    { id: 'train-form', class: 'train-form', onsubmit: (e) => e.preventDefault() },
    field('modelName', 'Model name', { value: safeName(`${ds.name}-mtl`, 'model'), maxlength: 64 }),
    select('architecture', 'Architecture', ARCHITECTURES, 'hard-sharing'),
    field('sharedLayers', 'Shared / expert layers', { value: '128, 64', title: 'units per Dense layer, comma separated' }),
    field('headLayers', 'Head / tower layers', { value: '32', title: 'units per Dense layer, comma separated (may be empty)' }),
    field('experts', 'Experts (mmoe, ple)', { type: 'number', min: 1, max: 64, value: 4 }),
    select('lossWeighting', 'Loss weighting', STRATEGIES, 'static'),
    field('epochs', 'Epochs', { type: 'number', min: 1, max: 10000, value: 20 }),
    field('batchSize', 'Batch size', { type: 'number', min: 1, value: 64 }),
    field('learningRate', 'Learning rate', { type: 'number', step: 'any', min: 0, value: 0.001 }),
    field('validationSplit', 'Validation split', { type: 'number', step: 0.05, min: 0, max: 0.9, value: 0.2 }),
    field('patience', 'Early-stopping patience (0: off)', { type: 'number', min: 0, value: 5 }),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'baselines', id: 'spec-baselines', onchange: writeSpec }), 'Also train single-task baselines (Δm)'),
  );

  const columnRows = ds.columns.map((c) => {
    const type = h('select', { name: 'taskType', disabled: roles[c.name] !== 'task', onchange: (e) => ((taskTypes[c.name] = e.target.value), writeSpec()) }, TASK_TYPES.map((t) => h('option', { value: t, selected: taskTypes[c.name] === t }, t)));
    const role = h(
      'select',
      {
        name: 'role',
        onchange: (e) => {
          roles[c.name] = e.target.value;
          type.disabled = e.target.value !== 'task';
          writeSpec();
        },
      },
      ['feature', 'task', 'ignore'].map((r) => h('option', { value: r, selected: roles[c.name] === r }, r)),
    );
    return h(
      'tr',
      { dataset: { column: c.name, type: c.type } },
      h('td', { class: 'mono' }, c.name),
      h('td', {}, h('span', { class: `type type-${c.type}` }, c.type)),
      h('td', { class: 'num' }, c.missing ? h('span', { class: 'warn-text' }, c.missing) : '0'),
      h('td', { class: 'num' }, `${c.distinct}${c.distinctCapped ? '+' : ''}`),
      h('td', { class: 'small sample', title: c.sample.map(String).join(', ') }, c.min !== undefined ? `${num(c.min)} … ${num(c.max)}` : c.sample.slice(0, 4).map(String).join(', ')),
      h('td', {}, role),
      h('td', {}, type),
    );
  });

  function layers(s) {
    return String(s)
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  function buildSpec() {
    const v = (n) => form.elements.namedItem(n);
    const tasks = ds.columns
      .filter((c) => roles[c.name] === 'task')
      .map((c) => {
        const name = safeName(c.name);
        return { name, ...(name !== c.name ? { column: c.name } : {}), type: taskTypes[c.name] };
      });
    const anyIgnored = ds.columns.some((c) => roles[c.name] === 'ignore');
    const features = ds.columns.filter((c) => roles[c.name] === 'feature').map((c) => ({ name: c.name, type: c.type === 'numeric' ? 'numeric' : 'categorical' }));
    const arch = v('architecture').value;
    const architecture =
      arch === 'hard-sharing' || arch === 'soft-sharing'
        ? { type: arch, sharedLayers: layers(v('sharedLayers').value), headLayers: layers(v('headLayers').value) }
        : { type: arch, experts: Number(v('experts').value), expertLayers: layers(v('sharedLayers').value), towerLayers: layers(v('headLayers').value) };
    const patience = Number(v('patience').value);
    return {
      name: safeName(v('modelName').value, 'model'),
      datasetId: ds.id,
      tasks,
      // Without ignored columns the API's default (every column no task uses) is the same list, so it is left out.
      ...(anyIgnored ? { features } : {}),
      architecture,
      lossWeighting: { strategy: v('lossWeighting').value },
      training: {
        epochs: Number(v('epochs').value),
        batchSize: Number(v('batchSize').value),
        learningRate: Number(v('learningRate').value),
        validationSplit: Number(v('validationSplit').value),
        seed: 42,
        earlyStopping: patience > 0 ? { patience } : false,
        ...(v('baselines').checked ? { baselines: true } : {}),
      },
    };
  }

  function writeSpec() {
    specInput.value = JSON.stringify(buildSpec(), null, 2);
  }

  const start = h('button', { type: 'button', id: 'start-training' }, 'Start training');
  start.addEventListener('click', async () => {
    const spec = parseJsonInput(specInput.value, submitOut, 'The spec is not JSON');
    if (spec === undefined) return;
    start.disabled = true;
    try {
      const job = await api('POST', '/v1/jobs', { body: spec, signal: ctx.signal });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      fill(submitOut, problemBox(err));
    } finally {
      start.disabled = false;
    }
  });

  add(root,
    h('div', { class: 'page-head' }, h('h1', {}, ds.name, h('span', { class: 'muted' }, ` · ${ds.rows} rows`)), h('div', { class: 'head-side' }, h('a', { class: 'button ghost', href: '#/datasets' }, '← all datasets'))),
    h('div', { class: 'meta-line' }, h('span', {}, 'dataset ', h('code', {}, shortId(ds.id))), h('span', {}, ds.format), h('span', {}, bytes(ds.bytes)), h('span', { title: ds.createdAt }, `uploaded ${ago(ds.createdAt)}`), h('span', {}, `${ds.columns.length} columns`)),
    h(
      'div',
      { class: 'grid-2 wide-left' },
      card(
        'Columns',
        h('p', { class: 'muted small' }, 'Inferred types. Roles are a guess: pick which columns are tasks (one head each) and which are inputs.'),
        h('div', { class: 'scroll' }, table(['column', 'type', 'missing', 'distinct', 'values', 'role', 'task type'], columnRows, { id: 'dataset-columns', class: 'compact' })),
      ),
      card(
        'Train a model',
        form,
        h('label', { class: 'block' }, 'Spec (JSON, sent as is to POST /v1/jobs; the form above rewrites it)', specInput),
        h('div', { class: 'row' }, start),
        submitOut,
      ),
    ),
  );
  writeSpec();
}
