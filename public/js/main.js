// The dashboard shell: hash routes (#/jobs, #/jobs/<id>, #/models, #/models/<id>, #/datasets,
// #/datasets/<id>, #/studies, #/studies/<id>), the API key button, and one live page at a time.
import { ApiError, apiKey, askForKey } from './api.js';
import { h, problemBox } from './dom.js';
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { modelsPage } from './pages/models.js';
import { modelPage } from './pages/model.js';
import { datasetsPage } from './pages/datasets.js';
import { datasetPage } from './pages/dataset.js';
import { studiesPage, studyPage } from './pages/studies.js';

const ROUTES = [
  [/^#\/jobs\/([^/]+)$/, jobPage, 'jobs'],
  [/^#\/jobs\/?$/, jobsPage, 'jobs'],
  [/^#\/models\/([^/]+)$/, modelPage, 'models'],
  [/^#\/models\/?$/, modelsPage, 'models'],
  [/^#\/datasets\/([^/]+)$/, datasetPage, 'datasets'],
  [/^#\/datasets\/?$/, datasetsPage, 'datasets'],
  [/^#\/studies\/([^/]+)$/, studyPage, 'studies'],
  [/^#\/studies\/?$/, studiesPage, 'studies'],
];

const view = document.getElementById('view');
let current = null;

async function route() {
  const hash = location.hash || '#/jobs';
  const match = ROUTES.map(([re, page, nav]) => ({ m: hash.match(re), page, nav })).find((r) => r.m);
  if (!match) {
    location.replace('#/jobs');
    return;
  }
  if (current) {
    current.controller.abort();
    current.cleanups.forEach((fn) => fn());
  }
  const controller = new AbortController();
  const cleanups = [];
  const root = h('div', { class: 'page' });
  current = { controller, cleanups };
  view.replaceChildren(root);
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === match.nav));
  const ctx = {
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    /** setInterval that ends with the page. */
    every(ms, fn) {
      const t = setInterval(fn, ms);
      cleanups.push(() => clearInterval(t));
    },
  };
  try {
    await match.page(root, ctx, ...match.m.slice(1).map(decodeURIComponent));
  } catch (err) {
    if (controller.signal.aborted) return;
    if (!(err instanceof ApiError)) console.error(err); // API errors are shown on the page
    root.append(problemBox(err));
  }
}

function showKeyState() {
  const button = document.getElementById('key-button');
  const set = Boolean(apiKey.get());
  button.textContent = set ? 'API key ✓' : 'API key';
  button.dataset.keySet = String(set);
}

document.getElementById('key-button').addEventListener('click', async () => {
  if (await askForKey('')) route();
});
apiKey.onChange(showKeyState);
showKeyState();
window.addEventListener('hashchange', route);
route();
