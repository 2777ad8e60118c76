/** One Server-Sent Event as the stream sent it (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
  /** The reconnection delay the server asked for, in ms, when this block set one. */
  retry?: number;
}

/**
 * Reads Server-Sent Events from a byte stream: `field: value` lines, events ending at a blank
 * line, several `data:` lines joined with newlines, `:` comments (keep-alives) skipped, LF, CR or
 * CRLF line ends. A block with only `retry:` is reported as an event of type '' with its retry.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event: Partial<ServerSentEvent> & { data?: string } = {};
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let nl = buffer.search(/\r\n|\r|\n/); nl >= 0; nl = buffer.search(/\r\n|\r|\n/)) {
        if (buffer[nl] === '\r' && nl === buffer.length - 1) break; // a CR at the end may be half of a CRLF
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (event.data !== undefined || event.retry !== undefined) yield { event: event.event ?? (event.data !== undefined ? 'message' : ''), data: event.data ?? '', id: event.id, retry: event.retry };
          event = {};
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.data = event.data === undefined ? val : `${event.data}\n${val}`;
        else if (field === 'event') event.event = val;
        else if (field === 'id') event.id = val;
        else if (field === 'retry' && /^[0-9]+$/.test(val)) event.retry = Number(val);
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}
