import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { resolve } from 'node:path';

/** Where a Redis on this machine answers: the default when REDIS_URL is unset. */
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisEndpoint {
  url: string;
  /** Where it came from: the REDIS_URL setting, a Redis already running locally, or one we started. */
  source: 'REDIS_URL' | 'local' | 'started';
  /** Stops a Redis we started; a no-op otherwise. */
  stop: () => Promise<void>;
}

/** True when something at host:port answers PING with PONG within the timeout. */
export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => finish(d.toString().startsWith('+PONG')));
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/**
 * Finds Redis for one machine: `REDIS_URL` when set; else a Redis answering on 127.0.0.1:6379;
 * else starts `redis-server` from the PATH on a free port with its files under `dir`.
 */
export async function resolveRedis(opts: { redisUrl?: string; dir: string; persist: boolean }): Promise<RedisEndpoint> {
  const none = async () => undefined;
  if (opts.redisUrl) return { url: opts.redisUrl, source: 'REDIS_URL', stop: none };
  if (await pingRedis('127.0.0.1', 6379)) return { url: LOCAL_REDIS_URL, source: 'local', stop: none };
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'No Redis: REDIS_URL is unset, nothing answers on 127.0.0.1:6379 and redis-server is not on the PATH. ' +
        'Install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), start one, or set REDIS_URL.',
    );
  }
  return startRedisServer({ dir: opts.dir, persist: opts.persist });
}

/** Starts `redis-server` (port: given or free) with its files in `dir`; resolves once it answers PING. */
export async function startRedisServer(opts: { dir: string; persist: boolean; port?: number }): Promise<RedisEndpoint> {
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'];
  args.push('--appendonly', opts.persist ? 'yes' : 'no');
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const started = Date.now();
  while (!(await pingRedis('127.0.0.1', port, 200))) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port} (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    source: 'started',
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
