import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('openapi/openapi.json', () => {
  it('matches the route schemas (npm run openapi rewrites it)', () => {
    const script = fileURLToPath(new URL('../../scripts/openapi.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', script, '--check'], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr + res.stdout);
  });
});
