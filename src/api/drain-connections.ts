import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * The first step of the API's shutdown, before `app.close()`: it stops accepting connections (new
 * ones are refused, so a client knows nothing was sent and may retry elsewhere) but, for up to
 * `ms`, goes on answering on the open ones, each answer closing its connection
 * (`Connection: close`). Keep-alive clients thus leave after a whole answer instead of sending a
 * request into a socket the server is closing (a reset, and no answer: Node's `server.close()`
 * drops idle keep-alive sockets at once). Ends early once no connection is open.
 */
export async function drainConnections(server: Server, ms: number): Promise<void> {
  if (ms <= 0 || !server.listening) return;
  server.prependListener('request', (_request, response) => {
    if (!response.headersSent) response.setHeader('connection', 'close');
  });
  // net.Server's close, not http.Server's: stop listening, keep the open connections.
  NetServer.prototype.close.call(server);
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const open = await new Promise<number>((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)));
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
