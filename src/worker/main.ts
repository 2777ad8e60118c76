import { closeGracefully, composeRoot, verifyStoresOrExit, maskRedisUrl, redisUrlOf } from '../composition-root.js';
import { startWorker } from './start-worker.js';
import { describeAdapter, findWebGpuAdapter } from '../mtl/webgpu-backend.js';

/** `npm run start:worker`: one worker process; start more (on more machines) to scale out. */
const { config, logger, stores } = composeRoot('worker');
await verifyStoresOrExit(stores, logger);
const redisUrl = redisUrlOf(config);

// TF_BACKEND=webgpu without an adapter: every training child would fail every job, so refuse now, naming the missing driver.
const gpu = config.TF_BACKEND === 'webgpu' ? await findWebGpuAdapter() : null;
if (gpu && !gpu.ok) {
  logger.fatal({ backend: 'webgpu', reason: gpu.reason }, `worker not started: TF_BACKEND=webgpu but ${gpu.reason}`);
  process.exitCode = 1;
} else {
  if (gpu?.ok) logger.info({ adapter: gpu.adapter }, `webgpu adapter: ${describeAdapter(gpu.adapter)}`);
  const { shutdown } = startWorker({ config, logger, redisUrl, stores });
  logger.info({ redis: maskRedisUrl(redisUrl), concurrency: config.WORKER_CONCURRENCY, backend: config.TF_BACKEND }, 'worker started');

  // Running jobs checkpoint and go back to the queue; after the grace period the worker kills the
  // training child processes still running and closes (their jobs then stall and resume from their
  // last checkpoint elsewhere).
  const graceMs = config.WORKER_SHUTDOWN_GRACE_MS;
  closeGracefully({ logger, message: 'worker shutting down: running jobs checkpoint and go back to the queue', details: { graceMs }, delayMs: graceMs + 10_000 }, async () => {
    await shutdown(graceMs);
    logger.info('worker stopped');
  });
}
