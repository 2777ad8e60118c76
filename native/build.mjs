#!/usr/bin/env node
/**
 * Builds the optional native BLAS kernels (native/mtl_blas.c → native/build/mtl_blas.node) with the
 * system C compiler against the system CBLAS (Debian/Ubuntu: `apt-get install gcc libopenblas-dev`).
 * No node-gyp and no header download: Node-API headers come from the running Node's own
 * include/node directory.
 *
 *   node native/build.mjs            build, exit 1 on failure
 *   node native/build.mjs --optional build, but on failure print the reason and exit 0
 *                                    (what `npm install` / `npm ci` run: the service then falls
 *                                    back to the wasm backend and logs why)
 *
 * Environment: CC (default cc), MTL_BLAS_LIB (library to link, default: openblas, else cblas,
 * else blas), MTL_BLAS_SKIP=1 (do not build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes('--optional');
const out = join(here, 'build', 'mtl_blas.node');

function fail(reason) {
  if (optional) {
    console.warn(`mtl_blas: native BLAS kernels not built (${reason}); TF_BACKEND=auto will use wasm. Install a C compiler and libopenblas-dev, then run: npm run build:native`);
    process.exit(0);
  }
  console.error(`mtl_blas: build failed: ${reason}`);
  process.exit(1);
}

if (process.env.MTL_BLAS_SKIP === '1') fail('MTL_BLAS_SKIP=1');
if (process.platform === 'win32') fail('Windows is not supported by this build script');

const includeCandidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  resolve(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const nodeInclude = includeCandidates.find((d) => existsSync(join(d, 'node_api.h')));
if (!nodeInclude) fail(`node_api.h not found (looked in ${includeCandidates.join(', ')})`);

const cc = process.env.CC || 'cc';
const cblasInclude = ['/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu', '/usr/include/openblas', '/usr/local/include', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include'].filter((d) => existsSync(d));
const libs = process.env.MTL_BLAS_LIB ? [process.env.MTL_BLAS_LIB] : ['openblas', 'cblas', 'blas'];
const libDirs = ['/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib'].filter((d) => existsSync(d));

mkdirSync(join(here, 'build'), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const errors = [];
for (const lib of libs) {
  const args = [
    '-O3', '-fPIC', '-shared', '-std=c11', '-ffp-contract=off', '-fno-math-errno', '-fvisibility=hidden', '-Wall',
    ...(lib === 'openblas' ? ['-DMTL_OPENBLAS'] : []),
    `-I${nodeInclude}`, ...cblasInclude.map((d) => `-I${d}`),
    join(here, 'mtl_blas.c'), '-o', tmp,
    ...libDirs.map((d) => `-L${d}`), `-l${lib}`, '-lm',
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
  ];
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out);
    console.log(`mtl_blas: built ${out} (${cc}, -l${lib})`);
    process.exit(0);
  } catch (err) {
    rmSync(tmp, { force: true });
    const stderr = err.stderr?.toString().trim().split('\n').slice(-3).join(' | ') || err.message;
    errors.push(`-l${lib}: ${stderr}`);
  }
}
fail(errors.join('; '));
