import { createServer, type Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CANCELLED_REASON, type TrainingJobProgress } from '../queue/job-types.js';

/**
 * A worker process's own Prometheus endpoint (GET /metrics on `port`): process metrics, jobs by
 * outcome, jobs running, and the training speed of the last epoch. Returns the server, or null when
 * the port is 0 (off).
 */
export function serveWorkerMetrics(worker: Worker, port: number, logger: Logger): Server | null {
  if (port === 0) return null;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mtl_worker_' });
  const jobs = new Counter({ name: 'mtl_worker_jobs_total', help: 'Training jobs this worker finished, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const running = new Gauge({ name: 'mtl_worker_jobs_running', help: 'Training jobs running in this worker', registers: [registry] });
  const speed = new Gauge({ name: 'mtl_worker_training_samples_per_second', help: 'Training speed of the last finished epoch', registers: [registry] });
  worker.on('active', () => running.inc());
  worker.on('completed', () => {
    running.dec();
    jobs.inc({ outcome: 'succeeded' });
  });
  worker.on('failed', (job) => {
    running.dec();
    // 'failed' fires for every failed attempt; only a final failure (no retry left) sets finishedOn.
    if (!job?.finishedOn) return;
    jobs.inc({ outcome: job.failedReason === CANCELLED_REASON ? 'cancelled' : 'failed' });
  });
  worker.on('progress', (_job, progress) => {
    const last = (progress as TrainingJobProgress | undefined)?.history?.at(-1);
    if (last) speed.set(last.samplesPerSec);
  });
  const server = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  });
  // A port already in use (EADDRINUSE) costs the metrics, not the worker.
  server.on('error', (err) => logger.error({ err, port }, 'worker metrics server failed; the worker goes on without /metrics'));
  server.listen(port, () => logger.info({ port }, 'worker metrics at /metrics'));
  worker.on('closed', () => server.close());
  return server;
}
