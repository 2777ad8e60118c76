import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { ConfigSchema } from '../../src/config.js';
import { checkConfigDocs, CONFIG_DOCS_PATH, configTable, END_MARKER, START_MARKER, withConfigTable } from '../../scripts/config-docs.js';

const dir = mkdtempSync(join(tmpdir(), 'mtl-config-docs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of docs/configuration.md with `edit` applied, in a temporary file. */
function copyOfDocs(edit: (text: string) => string): string {
  const path = join(dir, `configuration-${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(path, edit(readFileSync(CONFIG_DOCS_PATH, 'utf8')));
  return path;
}

describe('docs/configuration.md', () => {
  it('lists every setting of ConfigSchema as generated (npm run config:docs rewrites it)', () => {
    const check = checkConfigDocs();
    assert.ok(check.expected, `${START_MARKER} … ${END_MARKER} markers missing in ${CONFIG_DOCS_PATH}`);
    assert.equal(check.current, check.expected, 'docs/configuration.md is stale: run `npm run config:docs` and commit it');
    for (const name of Object.keys(ConfigSchema.properties)) assert.match(check.current, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name);
  });
});

describe('config-docs', () => {
  it('finds a table that lost a row, and restores it', () => {
    const path = copyOfDocs((text) => text.replace(/^\| `WORKER_LOCK_MS` .*\n/m, ''));
    const check = checkConfigDocs(path);
    assert.equal(check.ok, false);
    assert.match(check.expected, /^\| `WORKER_LOCK_MS` \| `30000` \| /m);
  });

  it('finds a table whose default or description was edited by hand', () => {
    const path = copyOfDocs((text) => text.replace('| `PORT` | `3000` |', '| `PORT` | `8080` |'));
    assert.equal(checkConfigDocs(path).ok, false);
  });

  it('picks up a setting added to the schema', () => {
    const extended = Type.Object({
      ...ConfigSchema.properties,
      MTL_EXAMPLE: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '1', description: 'A new | setting.' }),
    });
    assert.equal(checkConfigDocs(CONFIG_DOCS_PATH, extended).ok, false);
    assert.match(configTable(extended), /^\| `MTL_EXAMPLE` \| `1` \| A new \\\| setting\. One of `0`, `1`\. \|$/m);
  });

  it('says which settings are optional, lists union values and integer ranges', () => {
    const table = configTable();
    assert.match(table, /^\| `REDIS_URL` \| unset \(optional\) \| Redis for the job queue\./m);
    assert.match(table, /^\| `LOG_LEVEL` \| `info` \| .*One of `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`\. \|$/m);
    assert.match(table, /^\| `PORT` \| `3000` \| .*Integer, 0–65535\. \|$/m);
    assert.match(table, /^\| `API_KEYS` \| unset \(optional\) \| Comma-separated "&lt;key&gt;:&lt;role&gt;" pairs/m);
  });

  it('refuses a document without the markers', () => {
    assert.throws(() => withConfigTable('# Configuration\n', configTable()), /markers are missing/);
    const path = copyOfDocs((text) => text.replace(END_MARKER, ''));
    assert.equal(checkConfigDocs(path).ok, false);
  });
});
