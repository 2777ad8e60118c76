import { connect } from 'node:net';

/** What came back for one raw request. */
export interface RawResponse {
  /** answered: a whole response; stalled: none (or only part of one) within the timeout; reset / closed: the connection ended without a response; refused: nothing listens. */
  outcome: 'answered' | 'stalled' | 'reset' | 'closed' | 'refused';
  status?: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

export interface RawRequest {
  /** The request line and headers exactly as sent, without the blank line that ends them. */
  head: string;
  body?: Buffer | string;
}

/**
 * Sends a request byte for byte over a new TCP connection to 127.0.0.1:`port` (nothing normalises
 * the path, the method or the headers, unlike fetch) and reads the response until it is complete,
 * the server closes the connection, or `timeoutMs` passes.
 */
export function rawRequest(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const started = Date.now();
  const head = request.head.endsWith('\r\n') ? request.head : `${request.head}\r\n`;
  const isHead = /^HEAD /i.test(head);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (outcome: RawResponse['outcome']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks), isHead);
      // A complete response counts, however the connection ended after it; so does one whose body
      // runs until the server closes.
      const answered = parsed.complete || (outcome === 'answered' && Number.isFinite(parsed.status));
      const final = answered ? 'answered' : outcome === 'answered' ? 'closed' : outcome;
      resolve({ outcome: final, status: parsed.status, headers: parsed.headers, body: parsed.body, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish('stalled'), timeoutMs);
    socket.on('connect', () => {
      socket.write(`${head}\r\n`);
      if (request.body !== undefined && request.body.length > 0) socket.write(request.body);
    });
    socket.on('data', (d) => {
      chunks.push(d);
      if (parseResponse(Buffer.concat(chunks), isHead).complete) finish('answered');
    });
    socket.on('end', () => finish('answered'));
    socket.on('close', () => finish('answered'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return finish('refused');
      // EPIPE / ECONNRESET while we were still sending: the server may have answered early (413) and closed.
      finish(Number.isFinite(parseResponse(Buffer.concat(chunks), isHead).status) ? 'answered' : 'reset');
    });
  });
}

interface Parsed {
  complete: boolean;
  status?: number;
  headers: Record<string, string>;
  body: string;
}

function parseResponse(bytes: Buffer, isHead: boolean): Parsed {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return { complete: false, headers: {}, body: '' };
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = bytes.subarray(end + 4);
  // An interim answer (100 Continue): the final one follows.
  if (status >= 100 && status < 200) return parseResponse(rest, isHead);
  if (isHead || status === 204 || status === 304) return { complete: Number.isFinite(status), status, headers, body: '' };
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const { done, body } = dechunk(rest);
    return { complete: done, status, headers, body: body.toString('utf8') };
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return { complete: rest.length >= length, status, headers, body: rest.subarray(0, length).toString('utf8') };
  }
  // No length: the body runs until the server closes (the caller's 'end' completes it).
  return { complete: false, status, headers, body: rest.toString('utf8') };
}

function dechunk(bytes: Buffer): { done: boolean; body: Buffer } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return { done: false, body: Buffer.concat(parts) };
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return { done: false, body: Buffer.concat(parts) };
    if (size === 0) return { done: true, body: Buffer.concat(parts) };
    if (bytes.length < lineEnd + 2 + size + 2) return { done: false, body: Buffer.concat(parts) };
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
