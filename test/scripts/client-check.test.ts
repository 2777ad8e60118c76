import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('clients/typescript/src/schema.d.ts', () => {
  it('is what openapi-typescript makes of openapi/openapi.json (npm run client:generate rewrites it)', () => {
    const script = fileURLToPath(new URL('../../scripts/client.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', script, '--check'], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr + res.stdout);
  });
});
