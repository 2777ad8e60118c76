import type { LoggerOptions } from 'pino';

/** pino options shared by the API and the worker: JSON lines, pretty only on a terminal. */
export function loggerOptions(level: string, name: string): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  return {
    level,
    name,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' },
    serializers: {
      // Fastify logs each request's URL: never with the live-progress stream's ?access_token=.
      req: (req: { method?: string; url?: string; hostname?: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: req.url?.replace(/([?&]access_token=)[^&]*/gi, '$1[redacted]'),
        hostname: req.hostname,
        remoteAddress: req.ip,
        reqId: req.id,
      }),
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
}
