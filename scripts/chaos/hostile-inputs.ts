import type { RawRequest } from './raw-http.js';

/** One hostile request: what kind it is, a label for the report, and the bytes to send. */
export interface HostileCase {
  kind: string;
  label: string;
  request: RawRequest;
}

export interface HostileContext {
  port: number;
  adminKey: string;
  predictKey: string;
  /** A small dataset of the run's own (jobs a hostile body gets queued on it train in no time). */
  datasetId: string;
  modelId: string;
  jobId: string;
  /** The most bytes a predict body may have, and a dataset upload (the API's settings). */
  predictMaxBytes: number;
  datasetMaxBytes: number;
}

const MISSING = '00000000-0000-4000-8000-000000000000';

/**
 * At least 200 requests a client should never send: malformed JSON, wrong types, huge numbers, deep
 * nesting, bad content types, path traversal in ids, unknown routes, oversized bodies, bad query
 * strings, odd methods, bad auth headers and HTTP-level garbage. Each must be answered within the
 * timeout, never with a 5xx, and every error as application/problem+json.
 */
export function hostileCases(ctx: HostileContext): HostileCase[] {
  const cases: HostileCase[] = [];
  const host = `Host: 127.0.0.1:${ctx.port}`;
  const auth = (key = ctx.adminKey) => `Authorization: Bearer ${key}`;
  /** A well-formed request with the admin key, unless `headers` says otherwise. */
  const http = (method: string, path: string, opts: { body?: string | Buffer; type?: string | null; headers?: string[]; key?: string | null } = {}): RawRequest => {
    const lines = [`${method} ${path} HTTP/1.1`, host, 'Connection: close'];
    if (opts.key !== null) lines.push(auth(opts.key));
    if (opts.body !== undefined && opts.type !== null) lines.push(`Content-Type: ${opts.type ?? 'application/json'}`);
    if (opts.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(opts.body)}`);
    lines.push(...(opts.headers ?? []));
    return { head: lines.join('\r\n'), body: opts.body };
  };
  const add = (kind: string, label: string, request: RawRequest) => cases.push({ kind, label, request });
  const jobs = '/v1/jobs';
  const predict = `/v1/models/${ctx.modelId}/predict`;
  const instance = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`p${i}`, i % 17]));
  const job = (extra: Record<string, unknown> = {}) => ({ datasetId: ctx.datasetId, tasks: [{ name: 'label', type: 'binary' }], training: { epochs: 1 }, ...extra });

  // Malformed JSON, on the two routes that take JSON bodies.
  const malformed: (string | Buffer)[] = [
    '{', '{"datasetId":', '[1,2', 'nul', 'tru', '{"a":1,}', "{'a':1}", '{"a":1}}', '\uFEFF{"a":1}', '{"a":"\\x"}', '', ' ', '\u0000',
    Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), '{"a":NaN}', '{"a":Infinity}', '{"a":-}', '"just a string"', '123', 'null', '[]',
    '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"a":1} trailing',
  ];
  for (const [path, name] of [[jobs, 'jobs'], [predict, 'predict']] as const)
    malformed.forEach((body, i) => add('malformed JSON', `${name} #${i}: ${JSON.stringify(body.toString('latin1').slice(0, 30))}`, http('POST', path, { body })));

  // Valid JSON, wrong types.
  const wrongJobs: unknown[] = [
    { datasetId: 5, tasks: [] }, { datasetId: null, tasks: [{ name: 'label', type: 'binary' }] }, { datasetId: [], tasks: [] }, { datasetId: {}, tasks: [] },
    job({ tasks: 'label' }), job({ tasks: {} }), job({ tasks: [1] }), job({ tasks: [{ name: 5, type: 'binary' }] }), job({ tasks: [{ name: 'label', type: 7 }] }),
    job({ tasks: [{ name: 'label', type: 'binary', weight: 'heavy' }] }), job({ training: { epochs: '10' } }), job({ training: { epochs: -1 } }), job({ training: { epochs: 1.5 } }),
    job({ training: { batchSize: 0 } }), job({ training: { learningRate: 'fast' } }), job({ training: { validationSplit: 2 } }), job({ training: { seed: 'x' } }),
    job({ architecture: 'deep' }), job({ architecture: { type: 'nope' } }), job({ architecture: { sharedLayers: '64' } }), job({ architecture: { sharedLayers: [-1] } }),
    job({ architecture: { sharedLayers: [0.5] } }), job({ features: 'all' }), job({ features: [{ name: 7 }] }), job({ name: 12345 }), job({ name: 'x'.repeat(10_000) }),
    job({ lossWeighting: { strategy: 'magic' } }), job({ tasks: [{ name: 'label', type: 'binary' }, { name: 'label', type: 'binary' }] }), job({ datasetId: MISSING }),
    job({ tasks: [{ name: 'nosuchcolumn', type: 'binary' }] }),
  ];
  wrongJobs.forEach((body, i) => add('wrong types', `jobs #${i}`, http('POST', jobs, { body: JSON.stringify(body) })));
  const wrongPredict: unknown[] = [
    { instances: 'x' }, { instances: {} }, { instances: [1] }, { instances: [[1, 2]] }, { instances: [{ ...instance, p0: 'seven' }] }, { instances: [null] },
    {}, { instances: [{}] }, { instances: [{ ...instance, p0: true }] }, { instances: [{ unknown: 1 }] }, { instances: [] }, { instances: [instance], extra: 1 },
  ];
  wrongPredict.forEach((body, i) => add('wrong types', `predict #${i}`, http('POST', predict, { body: JSON.stringify(body) })));

  // Huge numbers (written as JSON text: 1e309 is no JS number).
  const base = JSON.stringify(job()).slice(0, -1);
  for (const n of ['1e309', '-1e309', '1e308', '9007199254740993', '1e12', '5e-324'])
    add('huge numbers', `epochs ${n}`, http('POST', jobs, { body: `${base.replace('"training":{"epochs":1}', `"training":{"epochs":${n}}`)}}` }));
  for (const n of ['1e309', '1e9', '99999999'])
    add('huge numbers', `sharedLayers [${n}]`, http('POST', jobs, { body: `${base},"architecture":{"sharedLayers":[${n}]}}` }));
  add('huge numbers', 'learningRate 1e309', http('POST', jobs, { body: `${base.replace('"training":{"epochs":1}', '"training":{"epochs":1,"learningRate":1e309}')}}` }));
  add('huge numbers', 'batchSize 1e12', http('POST', jobs, { body: `${base.replace('"training":{"epochs":1}', '"training":{"epochs":1,"batchSize":1e12}')}}` }));
  const row = JSON.stringify(instance).slice(1, -1);
  for (const n of ['1e309', '-1e309', '1.7976931348623157e308', '5e-324', '123456789012345678901234567890'])
    add('huge numbers', `predict p0=${n}`, http('POST', predict, { body: `{"instances":[{${row.replace('"p0":0', `"p0":${n}`)}}]}` }));

  // Deep nesting.
  for (const depth of [1_000, 10_000, 100_000]) {
    add('deep nesting', `jobs array depth ${depth}`, http('POST', jobs, { body: '['.repeat(depth) + ']'.repeat(depth) }));
    add('deep nesting', `jobs object depth ${depth}`, http('POST', jobs, { body: '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) }));
    add('deep nesting', `predict instance depth ${depth}`, http('POST', predict, { body: `{"instances":[{"p0":${'['.repeat(depth)}${']'.repeat(depth)}}]}` }));
  }
  add('deep nesting', 'tasks nested 5000', http('POST', jobs, { body: `{"datasetId":"${ctx.datasetId}","tasks":${'['.repeat(5000)}${']'.repeat(5000)}}` }));

  // Bad content types.
  const jobBody = JSON.stringify(job());
  for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', '', ';;;', 'application/jsonx', 'text/csv', 'image/png'])
    add('bad content type', `jobs as '${type}'`, http('POST', jobs, { body: jobBody, type }));
  add('bad content type', 'jobs without content type', http('POST', jobs, { body: jobBody, type: null }));
  for (const type of ['application/json', 'image/png', 'text/plain', 'multipart/form-data; boundary=x', 'text/csv; charset=binary', ''])
    add('bad content type', `dataset upload as '${type}'`, http('POST', '/v1/datasets', { body: 'a,b\n1,2\n', type }));
  add('bad content type', 'dataset upload without content type', http('POST', '/v1/datasets', { body: 'a,b\n1,2\n', type: null }));
  for (const type of ['text/plain', 'application/x-ndjson', 'application/octet-stream'])
    add('bad content type', `predict as '${type}'`, http('POST', predict, { body: JSON.stringify({ instances: [instance] }), type }));
  add('bad content type', 'jobs gzip-encoded garbage', http('POST', jobs, { body: 'not gzip at all', headers: ['Content-Encoding: gzip'] }));

  // Path traversal and odd ids.
  const ids = [
    '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '....%2F%2F....%2F%2Fetc%2Fpasswd', '..%5C..%5Cwindows', '%00', 'a%00b', '%252e%252e%252f', '..;', 'x'.repeat(5000),
    '%ff%fe', '%F0%9F%98%80', '%20', 'CON', '~root', '%24%7Bjndi%3Aldap%3A%2F%2Fx%7D', '%3Cscript%3E', `${MISSING}%2F..`,
  ];
  for (const id of ids) {
    add('path traversal / odd id', `GET /v1/datasets/${id.slice(0, 40)}`, http('GET', `/v1/datasets/${id}`));
    add('path traversal / odd id', `GET /v1/models/${id.slice(0, 40)}`, http('GET', `/v1/models/${id}`));
    add('path traversal / odd id', `POST predict on ${id.slice(0, 40)}`, http('POST', `/v1/models/${id}/predict`, { body: JSON.stringify({ instances: [instance] }) }));
  }
  for (const id of ['..', '%2e%2e%2f%2e%2e%2f', 'x'.repeat(5000), '%00']) {
    add('path traversal / odd id', `GET /v1/jobs/${id.slice(0, 40)}`, http('GET', `/v1/jobs/${id}`));
    add('path traversal / odd id', `GET /v1/jobs/${id.slice(0, 40)}/logs`, http('GET', `/v1/jobs/${id}/logs`));
    add('path traversal / odd id', `DELETE /v1/datasets/${id.slice(0, 40)}`, http('DELETE', `/v1/datasets/${id}`));
  }
  for (const path of ['/v1/datasets/../../../etc/passwd', '/v1/../health/live', '//v1//datasets', '/v1/datasets/%2e%2e/%2e%2e/etc/passwd', '/ui/../../package.json', '/ui/..%2f..%2fpackage.json', '/ui/%2e%2e/%2e%2e/package.json', '/docs/..%2f..%2f.env'])
    add('path traversal / odd id', `raw path ${path}`, http('GET', path));

  // Unknown routes.
  for (const path of ['/v2/jobs', '/admin', '/.env', '/.git/config', '/v1', '/v1/', '/v1/jobs/x/restart', `/v1/datasets/${ctx.datasetId}/rows`, '/favicon.ico', '/robots.txt', '/server-status', `/v1/models/${ctx.modelId}/predict/extra`, '/wp-login.php', '/%', '/v1/jobs%'])
    add('unknown route', `GET ${path}`, http('GET', path));

  // Oversized bodies and heads.
  add('oversized', 'jobs body 2 MB', http('POST', jobs, { body: JSON.stringify(job({ name: 'x'.repeat(2 * 1024 * 1024) })) }));
  add('oversized', `predict body over ${ctx.predictMaxBytes} bytes`, http('POST', predict, { body: JSON.stringify({ instances: Array.from({ length: Math.ceil((ctx.predictMaxBytes * 1.3) / 300) }, () => instance) }) }));
  add('oversized', 'predict 20000 small instances', http('POST', predict, { body: JSON.stringify({ instances: Array.from({ length: 20_000 }, () => ({})) }) }));
  const csv = 'a,b,c\n' + '1,2,3\n'.repeat(Math.ceil((ctx.datasetMaxBytes * 1.2) / 6));
  add('oversized', `dataset upload over ${ctx.datasetMaxBytes} bytes`, http('POST', '/v1/datasets?name=big', { body: csv, type: 'text/csv' }));
  add('oversized', 'dataset with 20000 columns', http('POST', '/v1/datasets?name=wide', { body: Array.from({ length: 20_000 }, (_, i) => `c${i}`).join(',') + '\n' + '1,'.repeat(19_999) + '1\n', type: 'text/csv' }));
  add('oversized', 'header of 20 KB', http('GET', '/v1/datasets', { headers: [`X-Big: ${'x'.repeat(20_000)}`] }));
  add('oversized', '200 headers', http('GET', '/v1/datasets', { headers: Array.from({ length: 200 }, (_, i) => `X-H${i}: ${i}`) }));
  add('oversized', 'URL of 100 KB', http('GET', `/v1/datasets/${'a'.repeat(100_000)}`));

  // Bad query strings.
  const events = `/v1/jobs/${ctx.jobId}/events`;
  for (const [method, path] of [
    ['GET', '/v1/datasets?name=%ZZ'], ['GET', '/v1/datasets?name[]=a'], ['GET', '/v1/datasets?name=a&name=b'], ['GET', `/v1/datasets?name=${'x'.repeat(3000)}`],
    ['GET', '/v1/datasets?__proto__[x]=1'], ['GET', '/v1/datasets?constructor[prototype][x]=1'], ['GET', `${events}?lastEventId=abc`], ['GET', `${events}?lastEventId=99999999999`],
    ['GET', `${events}?lastEventId[]=1`], ['GET', `${events}?access_token=garbage`], ['GET', '/v1/models?name='], ['GET', '/v1/models?name=%00'], ['GET', '/v1/jobs?%=%'],
    ['GET', '/v1/jobs?&&&'], ['GET', '/v1/jobs?='], ['GET', '/v1/jobs?a==b'], ['GET', `/v1/jobs?q=${'%41'.repeat(20_000)}`], ['GET', '/v1/jobs?limit=-1'],
    ['POST', '/v1/datasets?name=%ZZ'], ['POST', `/v1/datasets?name=${'n'.repeat(5000)}`], ['POST', '/v1/datasets?name[]=a'],
  ] as const)
    add('bad query string', `${method} ${path.slice(0, 60)}`, http(method, path, method === 'POST' ? { body: 'a,b\n1,2\n', type: 'text/csv' } : {}));

  // Odd methods.
  for (const [method, path] of [
    ['PUT', jobs], ['PATCH', `/v1/datasets/${ctx.datasetId}`], ['DELETE', jobs], ['TRACE', '/'], ['OPTIONS', jobs], ['PROPFIND', '/'], ['FOO', jobs],
    ['get', '/health/live'], ['HEAD', '/v1/datasets'], ['HEAD', `/v1/jobs/${ctx.jobId}`], ['POST', '/health/live'], ['DELETE', '/v1/models'], ['PUT', predict],
    ['QUERY', jobs], ['SEARCH', jobs], ['MKCOL', '/v1/x'], ['PATCH', jobs], ['DELETE', `/v1/jobs/${ctx.jobId}`],
  ] as const)
    add('odd method', `${method} ${path.slice(0, 50)}`, http(method, path));
  add('odd method', 'CONNECT', { head: `CONNECT 127.0.0.1:${ctx.port} HTTP/1.1\r\n${host}\r\nConnection: close` });
  add('odd method', 'M-SEARCH *', { head: `M-SEARCH * HTTP/1.1\r\n${host}\r\nConnection: close` });

  // Bad auth headers.
  const authCases: [string, string[]][] = [
    ['no Authorization', []], ['Bearer alone', ['Authorization: Bearer']], ['Bearer and a space', ['Authorization: Bearer ']], ['wrong key', ['Authorization: Bearer wrong-key-123']],
    ['Basic', ['Authorization: Basic Y2hhb3M6a2V5']], ['Bearer 8 KB', [`Authorization: Bearer ${'x'.repeat(8000)}`]], ['key and junk', [`Authorization: Bearer ${ctx.adminKey} extra`]],
    ['Token scheme', [`Authorization: Token ${ctx.adminKey}`]], ['two Authorization headers', [auth(), 'Authorization: Bearer wrong-key-123']],
    ['non-ASCII key', ['Authorization: Bearer cl\u00e9-secr\u00e8te']], ['key in the query only', []], ['empty Authorization', ['Authorization:']],
  ];
  for (const [label, headers] of authCases) add('bad auth', `GET /v1/datasets: ${label}`, http('GET', label === 'key in the query only' ? `/v1/datasets?access_token=${ctx.adminKey}` : '/v1/datasets', { key: null, headers }));
  add('bad auth', 'predict key queues a job', http('POST', jobs, { body: jobBody, key: ctx.predictKey }));
  add('bad auth', 'predict key deletes a dataset', http('DELETE', `/v1/datasets/${MISSING}`, { key: ctx.predictKey }));
  add('bad auth', 'predict key cancels a job', http('POST', `/v1/jobs/${ctx.jobId}/cancel`, { key: ctx.predictKey }));
  add('bad auth', 'no key, predict', http('POST', predict, { body: JSON.stringify({ instances: [instance] }), key: null }));

  // HTTP-level garbage.
  const raw = (label: string, head: string, body?: string) => add('HTTP garbage', label, { head, body });
  raw('HTTP/1.1 without Host', 'GET /health/live HTTP/1.1\r\nConnection: close');
  raw('HTTP/1.0', 'GET /health/live HTTP/1.0');
  raw('HTTP/9.9', `GET /health/live HTTP/9.9\r\n${host}`);
  raw('not HTTP', 'GARBAGE');
  raw('header without colon', `GET /health/live HTTP/1.1\r\n${host}\r\nConnection: close\r\nNoColonHere`);
  raw('Content-Length -1', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nContent-Length: -1`, '{}');
  raw('Content-Length abc', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nContent-Length: abc`, '{}');
  raw('Content-Length and chunked', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked`, '2\r\n{}\r\n0\r\n\r\n');
  raw('bad chunk size', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`, 'zz\r\n{}\r\n0\r\n\r\n');
  raw('Transfer-Encoding gzip', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip`, '{}');
  raw('NUL in a header', `GET /v1/datasets HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\u0000`);
  raw('Expect: 100-continue', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2`, '{}');
  raw('body shorter than Content-Length', `POST ${jobs} HTTP/1.1\r\n${host}\r\nConnection: close\r\n${auth()}\r\nContent-Type: application/json\r\nContent-Length: 100`, '{"datasetId":');
  return cases;
}
