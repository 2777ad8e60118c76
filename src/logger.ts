import type { LoggerOptions } from 'pino';

/** pino options shared by the API and the worker: JSON lines, pretty only on a terminal. */
export function loggerOptions(level: string, name: string): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  return {
    level,
    name,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' },
    serializers: {
      // A request's URL is logged without the values of secret-looking query parameters (see redactUrl).
      req: (req: { method?: string; url?: string; hostname?: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: req.url === undefined ? undefined : redactUrl(req.url),
        hostname: req.hostname,
        remoteAddress: req.ip,
        reqId: req.id,
      }),
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
}

/** Query parameter names (decoded, lower case, letters and digits only) whose values are never logged. */
const SECRET_NAME = /token|key|secret|passw|auth|bearer|credential|signature|session|jwt/;

/**
 * `url` with the value of every query parameter that looks like a secret replaced by [redacted].
 * Names are compared after percent-decoding, lower-casing and dropping everything but letters and
 * digits, so `access%5Ftoken`, `ACCESS_TOKEN`, `access_token[]` and `apiKey` are all caught; a
 * name that does not decode is redacted too. The API takes no key in the query string, but a
 * client may still send one there.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((param) => {
      const eq = param.indexOf('=');
      const name = eq < 0 ? param : param.slice(0, eq);
      return secretName(name) ? `${name}=[redacted]` : param;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

function secretName(raw: string): boolean {
  let name: string;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return true;
  }
  return SECRET_NAME.test(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}
