import { closeGracefully, composeRoot, verifyStoresOrExit, redisUrlOf } from './composition-root.js';
import { startApi } from './api/start-api.js';
import { drainConnections } from './api/drain-connections.js';

/** `npm run start:api`: the HTTP API alone (workers run elsewhere: `npm run start:worker`). */
const root = composeRoot('api');
await verifyStoresOrExit(root.stores, root.logger);
const app = await startApi({ ...root, redisUrl: redisUrlOf(root.config) });
// Keep-alive clients are told to go (each answer closes its connection), then the server closes.
closeGracefully({ logger: root.logger, message: 'API shutting down', delayMs: 10_000 + root.config.API_DRAIN_MS }, async () => {
  await drainConnections(app.server, root.config.API_DRAIN_MS);
  await app.close();
});
