import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { loggerOptions } from './logger.js';
import { startApi } from './api/start-api.js';

/** `npm run start:api`: the HTTP API alone (workers run elsewhere: `npm run start:worker`). */
const config = loadConfig();
const logger = pino(loggerOptions(config.LOG_LEVEL, 'api'));
const app = await startApi(config, config.REDIS_URL ?? 'redis://127.0.0.1:6379', logger);
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'closing after an error');
  else logger.info({ signal }, 'API shutting down');
  await app.close();
});
