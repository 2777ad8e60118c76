// Datasets: upload (CSV or NDJSON, streamed to the API) and the list.
import { api } from '../api.js';
import { add, fill, ago, bytes, card, h, problemBox, shortId, table } from '../dom.js';

const TYPES = { csv: 'text/csv', ndjson: 'application/x-ndjson' };

export function formatOf(filename) {
  return /\.(ndjson|jsonl|json)$/i.test(filename) ? 'ndjson' : 'csv';
}

export async function datasetsPage(root, ctx) {
  const list = h('div', { id: 'datasets' });
  add(root, h('div', { class: 'page-head' }, h('h1', {}, 'Datasets')), card('Upload a dataset', uploadForm(ctx)), card('Stored datasets', list));

  const refresh = async () => {
    const { datasets } = await api('GET', '/v1/datasets', { signal: ctx.signal });
    fill(list,
      datasets.length
        ? table(
            ['dataset', 'rows', 'columns', 'format', 'size', 'uploaded', ''],
            datasets.map((d) =>
              h(
                'tr',
                { dataset: { datasetId: d.id } },
                h('td', {}, h('a', { href: `#/datasets/${d.id}` }, d.name), h('div', { class: 'muted small mono' }, shortId(d.id))),
                h('td', { class: 'num' }, d.rows),
                h('td', { class: 'small' }, columnSummary(d)),
                h('td', {}, d.format),
                h('td', { class: 'num' }, bytes(d.bytes)),
                h('td', { class: 'small', title: d.createdAt }, ago(d.createdAt)),
                h('td', {}, h('a', { class: 'button small', href: `#/datasets/${d.id}` }, 'Columns & train →'), ' ', h('button', { class: 'ghost small', onclick: () => remove(d) }, 'Delete')),
              ),
            ),
            { class: 'list' },
          )
        : h('p', { class: 'muted' }, 'None yet. Upload a CSV with a header row, or NDJSON (one JSON object per line).'),
    );
  };

  async function remove(d) {
    if (!confirm(`Delete dataset ${d.name} (${d.rows} rows)?`)) return;
    try {
      await api('DELETE', `/v1/datasets/${d.id}`, { signal: ctx.signal });
      await refresh();
    } catch (err) {
      list.prepend(problemBox(err));
    }
  }

  await refresh();
}

/** "66: 64 numeric, 2 categorical" from a list entry's summary (the list carries counts, not the columns). */
function columnSummary(d) {
  return `${d.columnCount}: ${Object.entries(d.columnTypes ?? {})
    .map(([t, n]) => `${n} ${t}`)
    .join(', ')}`;
}

function uploadForm(ctx) {
  const file = h('input', { type: 'file', name: 'file', id: 'upload-file', accept: '.csv,.ndjson,.jsonl,.json,text/csv,application/x-ndjson', required: true });
  const name = h('input', { type: 'text', name: 'name', id: 'upload-name', placeholder: 'from the file name', maxlength: 128 });
  const format = h('select', { name: 'format', id: 'upload-format' }, h('option', { value: 'csv' }, 'CSV (text/csv)'), h('option', { value: 'ndjson' }, 'NDJSON (application/x-ndjson)'));
  const status = h('div', { class: 'upload-status' });
  const button = h('button', { type: 'submit', id: 'upload-button' }, 'Upload');
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (!f) return;
    format.value = formatOf(f.name);
    if (!name.value) name.placeholder = f.name.replace(/\.[^.]+$/, '');
  });
  return h(
    'form',
    {
      id: 'upload-form',
      class: 'upload',
      onsubmit: async (e) => {
        e.preventDefault();
        const f = file.files?.[0];
        if (!f) return;
        const dsName = (name.value || f.name.replace(/\.[^.]+$/, '')).replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 128) || 'dataset';
        button.disabled = true;
        fill(status, h('span', { class: 'muted' }, `Uploading ${f.name} (${bytes(f.size)})…`));
        try {
          const ds = await api('POST', `/v1/datasets?name=${encodeURIComponent(dsName)}`, { body: f, contentType: TYPES[format.value], signal: ctx.signal });
          location.hash = `#/datasets/${ds.id}`;
        } catch (err) {
          fill(status, problemBox(err));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('label', {}, 'File ', file),
    h('label', {}, 'Name ', name),
    h('label', {}, 'Format ', format),
    button,
    h('p', { class: 'muted small full' }, 'The file is streamed to the API; column types are inferred (numeric, boolean, categorical, multilabel as a|b|c in CSV or JSON arrays in NDJSON). Empty cells, NA and null are missing.'),
    status,
  );
}
