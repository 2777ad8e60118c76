import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { createStores } from '../../src/composition-root.js';
import { buildApp, type App } from '../../src/api/app.js';
import { createServices, type ApiRoot } from '../../src/api/start-api.js';
import type { AppServices } from '../../src/api/plugins/services.js';
import { obliterateTrainingQueue, testRedis, uniquePrefix } from './redis.js';

export interface TestApp {
  app: App;
  services: AppServices;
  config: Config;
  redisUrl: string;
  close: () => Promise<void>;
}

/** What an entry point hands the API (src/composition-root.ts): these settings, their stores, a silent logger. */
export function testApiRoot(config: Config, redisUrl: string, logger: Logger = pino({ level: 'silent' })): ApiRoot {
  return { config, logger, redisUrl, stores: createStores(config) };
}

/** The real API (real Redis, real store in a temp dir) under a unique queue prefix; `logger` to read what it logs. */
export async function createTestApp(name: string, env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<TestApp> {
  const redis = await testRedis();
  const dataDir = mkdtempSync(join(tmpdir(), `mtl-${name}-`));
  // Tests train in-process, which stalls the event loop: load shedding is tested on its own (test/api/security.test.ts).
  const config = loadConfig({ DATA_DIR: dataDir, QUEUE_PREFIX: uniquePrefix(name), LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '600000', ...env });
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const services = await createServices(testApiRoot(config, redis.url, logger));
  const app = await buildApp(services, { loggerInstance: logger });
  await app.ready();
  return {
    app,
    services,
    config,
    redisUrl: redis.url,
    close: async () => {
      await app.close(); // closes the services too (src/api/plugins/services.ts); a test may have closed it already
      await obliterateTrainingQueue(redis.url, config.QUEUE_PREFIX).catch(() => undefined);
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
