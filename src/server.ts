import { closeGracefully, composeRoot, redisUrlOf } from './composition-root.js';
import { startApi } from './api/start-api.js';

/** `npm run start:api`: the HTTP API alone (workers run elsewhere: `npm run start:worker`). */
const root = composeRoot('api');
const app = await startApi({ ...root, redisUrl: redisUrlOf(root.config) });
closeGracefully({ logger: root.logger, message: 'API shutting down', delayMs: 10_000 }, async () => {
  await app.close();
});
