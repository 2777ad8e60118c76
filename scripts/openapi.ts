/**
 * Writes (`--write`) or checks (`--check`) openapi/openapi.json, generated from the route schemas
 * with default settings. The check fails when the committed file is stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createStores } from '../src/composition-root.js';
import { buildApp } from '../src/api/app.js';
import { ModelCache } from '../src/api/model-cache.js';
import type { AppServices } from '../src/api/plugins/services.js';

const target = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));
const mode = process.argv[2];
if (mode !== '--write' && mode !== '--check') {
  console.error('usage: tsx scripts/openapi.ts --write | --check');
  process.exit(2);
}

// Only the route schemas are read: no request is served, so the queue is never touched.
const config = loadConfig({ DATA_DIR: join(tmpdir(), 'mtl-openapi') });
const { objects, datasets, models, studies } = createStores(config);
const services: AppServices = {
  config,
  objects,
  datasets,
  models,
  modelCache: new ModelCache(models, { capacity: 1 }),
  trainingQueue: undefined as never,
  jobEvents: undefined as never,
  studies,
  studyQueue: undefined as never,
  backend: 'none',
};
const app = await buildApp(services, { logger: false });
await app.ready();
const document = JSON.stringify(app.swagger(), null, 2) + '\n';
await app.close();

if (mode === '--write') {
  mkdirSync(fileURLToPath(new URL('../openapi/', import.meta.url)), { recursive: true });
  writeFileSync(target, document);
  console.log(`wrote ${target}`);
} else {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (current !== document) {
    console.error('openapi/openapi.json is stale: run `npm run openapi` and commit it');
    process.exit(1);
  }
  console.log('openapi/openapi.json is up to date');
}
