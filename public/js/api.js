// The dashboard's only way to the HTTP API: sends the saved API key, asks for one on 401/403 and retries.

const KEY_STORAGE = 'mtl.apiKey';
const keyListeners = new Set();

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) ?? '',
  set(key) {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    keyListeners.forEach((fn) => fn());
  },
  onChange: (fn) => keyListeners.add(fn),
};

/** A non-2xx answer; `problem` is the application/problem+json body when there was one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem && typeof problem === 'object' ? problem : { status, title: `HTTP ${status}`, detail: String(problem ?? '') };
  }
}

let prompt = null;

/**
 * Opens the key dialog (once, however many requests are waiting) and resolves true when the user
 * saved a key (the callers then retry), false when they cancelled.
 */
export function askForKey(reason) {
  if (prompt) return prompt;
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  document.getElementById('key-reason').textContent = reason
    ? `${reason} The key is kept in this browser (localStorage) and sent as "Authorization: Bearer <key>".`
    : 'The key is kept in this browser (localStorage) and sent as "Authorization: Bearer <key>" with every API call.';
  input.value = apiKey.get();
  prompt = new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        const action = dialog.returnValue;
        if (action === 'save' && input.value.trim()) {
          apiKey.set(input.value.trim());
          resolve(true);
        } else {
          if (action === 'clear') apiKey.set('');
          resolve(false);
        }
        prompt = null;
      },
      { once: true },
    );
    dialog.returnValue = '';
    dialog.showModal();
    input.focus();
  });
  return prompt;
}

function withKey(headers) {
  const h = new Headers(headers);
  const key = apiKey.get();
  if (key) h.set('authorization', `Bearer ${key}`);
  return h;
}

async function problemOf(res) {
  const text = await res.text().catch(() => '');
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { status: res.status, title: res.statusText || `HTTP ${res.status}`, detail: text.slice(0, 500) };
  }
}

function authReason(status, problem) {
  const what = status === 401 ? 'The API needs a key.' : 'The API refused this key for that request.';
  return problem?.detail ? `${what} (${problem.detail})` : what;
}

/**
 * Calls the API. `body`: an object (sent as JSON), or a string/Blob with `contentType`.
 * Returns the parsed JSON (null for an empty body), or the Response itself with `raw: true`.
 * A 401 or 403 opens the key dialog and retries with the new key; other errors throw ApiError.
 */
export async function api(method, path, { body, contentType, headers, signal, raw = false } = {}) {
  for (;;) {
    const h = withKey({ accept: 'application/json, application/problem+json', ...headers });
    let payload = body;
    if (body !== undefined && contentType) h.set('content-type', contentType);
    else if (body !== undefined && typeof body !== 'string' && !(body instanceof Blob)) {
      payload = JSON.stringify(body);
      h.set('content-type', 'application/json');
    }
    const res = await fetch(path, { method, headers: h, body: payload, signal });
    if (res.status === 401 || res.status === 403) {
      const problem = await problemOf(res);
      if (await askForKey(authReason(res.status, problem))) continue;
      throw new ApiError(res.status, problem);
    }
    if (!res.ok) throw new ApiError(res.status, await problemOf(res));
    if (raw) return res;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

/**
 * Server-Sent Events read with fetch streaming, so the request carries the same
 * `Authorization: Bearer` header as every other call (EventSource cannot send headers).
 * Reconnects after the server's `retry:` delay with Last-Event-ID, so no epoch is missed or
 * repeated; stops after `stopOn` (default `end`), on close(), or on a 4xx.
 * Handlers: onEvent(type, data, id), onStatus('connecting' | 'live' | 'reconnecting' | 'closed'), onError(err).
 */
export function eventStream(path, { lastEventId = 0, onEvent, onStatus = () => {}, onError = () => {}, stopOn = 'end' }) {
  const controller = new AbortController();
  let lastId = lastEventId;
  let retryMs = 2000;
  let done = false;

  const dispatch = (event) => {
    if (event.id !== undefined && /^[0-9]+$/.test(event.id)) lastId = Number(event.id);
    let data = event.data;
    try {
      data = JSON.parse(event.data);
    } catch {
      /* plain text */
    }
    onEvent(event.type || 'message', data, event.id);
    if (event.type === stopOn) done = true;
  };

  const readOnce = async () => {
    const headers = { accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = String(lastId);
    const res = await api('GET', path, { headers, signal: controller.signal, raw: true });
    onStatus('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { data: '' };
    let hasData = false;
    for (;;) {
      const { value, done: eof } = await reader.read();
      if (eof) return;
      buffer += value;
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (hasData) dispatch(event);
          event = { data: '' };
          hasData = false;
          if (done) {
            controller.abort();
            return;
          }
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') {
          event.data = hasData ? `${event.data}\n${val}` : val;
          hasData = true;
        } else if (field === 'event') event.type = val;
        else if (field === 'id') event.id = val;
        else if (field === 'retry' && /^[0-9]+$/.test(val)) retryMs = Number(val);
      }
    }
  };

  (async () => {
    onStatus('connecting');
    while (!done && !controller.signal.aborted) {
      try {
        await readOnce();
      } catch (err) {
        if (controller.signal.aborted) break;
        if (err instanceof ApiError && err.status < 500) {
          onError(err);
          break;
        }
      }
      if (done || controller.signal.aborted) break;
      onStatus('reconnecting');
      await new Promise((r) => setTimeout(r, retryMs));
    }
    onStatus('closed');
  })();

  return { close: () => controller.abort() };
}
