import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const S3RVER = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));

/** s3rver's built-in account: the only credentials it accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The settings a process needs to use the server (STORE_URL and the SDK's chain). */
export function s3Env(server: S3Server, prefix: string): Record<string, string> {
  return {
    STORE_URL: `s3://${server.bucket}/${prefix}`,
    S3_ENDPOINT: server.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  };
}

export interface S3Server {
  endpoint: string;
  bucket: string;
  port: number;
  /** Kills the server (SIGKILL); `start()` brings it back on the same port and directory. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on `host` (asked of the kernel, then released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(host: string, port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`s3rver exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`s3rver did not listen on ${host}:${port}`);
}

/**
 * A real S3-protocol server (the npm `s3rver`) in its own process, on a free port, its objects in a
 * temporary directory, with one bucket. `run` wraps the command (a network namespace: ['ip',
 * 'netns', 'exec', ns]).
 */
export async function startS3Server(opts: { bucket?: string; host?: string; port?: number; run?: string[] } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? 'mtl-test';
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const dir = mkdtempSync(join(tmpdir(), 'mtl-s3rver-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = [process.execPath, S3RVER, '-d', dir, '-a', host, '-p', String(port), '-s', '--configure-bucket', bucket];
    const [cmd, ...rest] = [...(opts.run ?? []), ...args];
    child = spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(host, port, child);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    endpoint: `http://${host}:${port}`,
    bucket,
    port,
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
