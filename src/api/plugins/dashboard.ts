import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the dashboard's static files are: the `public/` folder at the package root (same from `src/` under tsx and from `dist/src/`). */
export function dashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`dashboard: no public/index.html in any folder above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The charting library, served as is from node_modules (no build step). */
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

/**
 * The web dashboard: plain HTML, CSS and ES modules from `public/` at `/ui/`, uPlot at
 * `/ui/vendor/uplot/`, and `/` and `/ui` redirecting to `/ui/`. The pages call the same HTTP API as anyone
 * else (and send the API key a user saved). None of these routes appear in the OpenAPI document.
 */
export default async function dashboard(app: FastifyInstance) {
  await app.register(fastifyStatic, { root: dashboardDir(), prefix: '/ui/', decorateReply: false, index: 'index.html' });
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/ui/vendor/uplot/',
    decorateReply: false,
    allowedPath: (path) => path === '/uPlot.esm.js' || path === '/uPlot.min.css',
  });
  for (const url of ['/', '/ui']) app.get(url, { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  // The pages load only their own files and talk only to this API.
  app.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/ui/')) return;
    reply.header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
}
