import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Every setting of the API and the worker, from environment variables, with defaults for one machine. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'HTTP port of the API.' }),
  HOST: Type.String({ default: '127.0.0.1', description: 'Address the API listens on (0.0.0.0 in containers).' }),
  REDIS_URL: Type.Optional(Type.String({ description: 'Redis for the job queue. Unset: 127.0.0.1:6379, else a private redis-server (npm start / npm test; npm start keeps its files under DATA_DIR/redis, AOF on).' })),
  DATA_DIR: Type.String({ default: './data', description: 'Datasets, models, checkpoints (unless STORE_URL says elsewhere) and the private Redis live here; with the file store, share it between the API and the workers.' }),
  STORE_URL: Type.Optional(
    Type.String({
      pattern: '^(file|s3)://',
      description:
        'Where datasets, models, checkpoints and version claims are kept: file:///abs/dir (a directory every process shares) or s3://bucket/prefix (S3 or an S3-compatible server; no shared disk needed, version claims in Redis). Unset: DATA_DIR on this disk. See docs/deploy.md.',
    }),
  ),
  S3_ENDPOINT: Type.Optional(Type.String({ description: 'S3 store: the endpoint of an S3-compatible server (MinIO: http://minio:9000, GCS: https://storage.googleapis.com). Unset: AWS S3. Region and credentials come from the AWS SDK\'s chain (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, IAM roles).' })),
  S3_FORCE_PATH_STYLE: Type.Boolean({ default: false, description: 'S3 store: address objects as endpoint/bucket/key (MinIO, GCS, most S3-compatible servers) rather than bucket.endpoint/key.' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino level; JSON logs, pretty on a terminal.' }),
  LOG_SLOW_REQUEST_MS: Type.Integer({
    default: 1000,
    minimum: 0,
    description:
      'API: a request that succeeds but takes longer than this is logged at info ("slow request"); other successes only at debug, refusals (4xx) at info, failures (5xx) at warn/error, each as one line with its request id. 0: never "slow".',
  }),
  TF_BACKEND: Type.Union([Type.Literal('auto'), Type.Literal('tensorflow'), Type.Literal('webgpu'), Type.Literal('blas'), Type.Literal('wasm'), Type.Literal('cpu')], {
    default: 'auto',
    description: 'auto: tfjs-node-gpu / tfjs-node when installed, else (training only) webgpu when its adapter is a real GPU, else blas (native OpenBLAS kernels, when built), else wasm, else cpu; the API process (serving) tries wasm before blas and never webgpu. webgpu: tfjs-backend-webgpu on Dawn (npm `webgpu`) through any Vulkan driver, a software one (Mesa llvmpipe) included; a worker refuses to start when there is no adapter (docs/deploy.md, "GPU workers").',
  }),
  MTL_BLAS_THREADS: Type.Integer({
    default: 1,
    minimum: 1,
    maximum: 64,
    description: 'blas backend: OpenBLAS threads per process. 1 (default) never waits on a descheduled worker thread; more can be faster on a machine with idle cores (docs/performance.md).',
  }),
  MTL_BLAS_ADDON: Type.Optional(Type.String({ description: 'blas backend: path of another native addon file instead of native/build/mtl_blas.node.' })),
  MTL_FUSED: Type.Boolean({ default: true, description: 'The fused blas training path (each Dense layer and task loss as one kernel); false runs stock tfjs ops, to compare.' }),
  WORKER_CONCURRENCY: Type.Integer({ default: 1, minimum: 1, maximum: 64, description: 'Training jobs one worker process runs at once.' }),
  QUEUE_PREFIX: Type.String({ default: 'mtl', pattern: '^[A-Za-z0-9_:-]+$', description: 'Redis key prefix of the queues.' }),
  MODEL_CACHE_SIZE: Type.Integer({ default: 8, minimum: 1, maximum: 1000, description: 'Loaded models the API keeps in memory (least recently used evicted and disposed first).' }),
  MODEL_CACHE_RECHECK_MS: Type.Integer({
    default: 1000,
    minimum: 0,
    description: 'How often a loaded model (and what a name\'s latest version is) is checked against the store, so models another process saved or deleted are seen; 0: every request.',
  }),
  DATASET_MAX_BYTES: Type.Integer({ default: 1024 ** 3, minimum: 1, description: 'Largest dataset upload, in bytes (413 beyond).' }),
  PREDICT_MAX_ROWS: Type.Integer({ default: 10000, minimum: 1, description: 'Most instances in one predict request (413 beyond).' }),
  PREDICT_MAX_BODY_BYTES: Type.Integer({ default: 16 * 1024 ** 2, minimum: 1024, description: 'Largest predict request body, in bytes (413 beyond).' }),
  PREDICT_MAX_BATCH: Type.Integer({
    default: 256,
    minimum: 1,
    description: 'Most rows in one forward pass: concurrent requests are joined up to this; larger requests are cut into passes of this size, with the event loop free between them.',
  }),
  PREDICT_MAX_DELAY_MS: Type.Number({
    default: 2,
    minimum: 0,
    maximum: 1000,
    description: 'How long a predict request waits for others to share its forward pass (micro-batching); 0 turns batching off.',
  }),
  MODEL_ARCHIVE_MAX_BYTES: Type.Integer({
    default: 256 * 1024 ** 2,
    minimum: 1024,
    description: 'Largest model archive (POST /v1/models), in bytes, both as uploaded and unpacked (413 beyond; a gzip bomb stops there).',
  }),
  API_KEYS: Type.Optional(
    Type.String({ description: 'Comma-separated "<key>:<role>" pairs, role admin or predict. Unset: the API is open (local use only). See docs/security.md.' }),
  ),
  DOCS_PUBLIC: Type.Boolean({ default: true, description: '/docs (Swagger UI) open without a key.' }),
  METRICS_PUBLIC: Type.Boolean({ default: false, description: '/metrics open without a key (else an admin key is needed).' }),
  RATE_LIMIT_MAX: Type.Integer({ default: 6000, minimum: 1, description: 'Requests per key (or per IP without a key) per RATE_LIMIT_WINDOW_MS; 429 beyond.' }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60000, minimum: 1000, description: 'The window of RATE_LIMIT_MAX, in ms.' }),
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 120000, minimum: 1000, description: 'Whole-request timeout of the HTTP server (uploads included).' }),
  BODY_IDLE_TIMEOUT_MS: Type.Integer({
    default: 10000,
    minimum: 0,
    description: 'A request body that stops arriving (no byte for this long: fewer bytes than its Content-Length, a stalled upload) is answered 408; 0: wait until REQUEST_TIMEOUT_MS.',
  }),
  API_DRAIN_MS: Type.Integer({
    default: 2000,
    minimum: 0,
    description: 'On SIGTERM the API refuses new connections at once but goes on answering on the open ones, each answer closing its connection, for up to this long (less once none is open), then closes; 0: close at once.',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 1000, minimum: 10, description: 'Above this event-loop delay the API sheds load: 503 with Retry-After.' }),
  UNREAD_BODY_MAX_BYTES: Type.Integer({
    default: 64 * 1024 ** 2,
    minimum: 0,
    description:
      'After refusing a request before reading all of its body (a malformed or oversized upload), the API reads and discards up to this many more bytes so the keep-alive connection stays usable; a longer body is answered with Connection: close.',
  }),
  DATASET_MAX_ROWS: Type.Integer({ default: 5_000_000, minimum: 1, description: 'Most rows in one dataset (413 beyond).' }),
  DATASET_MAX_COLUMNS: Type.Integer({ default: 10_000, minimum: 1, description: 'Most columns in one dataset (400 beyond).' }),
  DATASET_MAX_RECORD_BYTES: Type.Integer({
    default: 1024 ** 2,
    minimum: 1024,
    description: 'Longest record of an upload (a CSV row, quoted line breaks included, or an NDJSON line), counted in characters; 400 naming the line beyond.',
  }),
  WORKER_MEMORY_MB: Type.Integer({ default: 8192, minimum: 64, description: 'Memory a worker has for one job: a spec estimated to need more is refused at POST /v1/jobs.' }),
  WORKER_METRICS_PORT: Type.Integer({ default: 0, minimum: 0, maximum: 65535, description: 'Port of a worker\'s own /metrics (Prometheus); 0: off.' }),
  JOB_ATTEMPTS: Type.Integer({ default: 3, minimum: 1, maximum: 100, description: 'Tries of a training job that fails for a transient reason.' }),
  WORKER_LOCK_MS: Type.Integer({ default: 30000, minimum: 1000, description: 'Job lock lifetime; a job whose worker died is picked up again after about this long.' }),
  WORKER_STALLED_INTERVAL_MS: Type.Integer({ default: 15000, minimum: 500, description: 'How often workers look for jobs whose worker died.' }),
  STUDY_POLL_MS: Type.Integer({ default: 250, minimum: 10, maximum: 60000, description: 'How often a study driver (in a worker) looks at its trials\' jobs.' }),
  WORKER_SHUTDOWN_GRACE_MS: Type.Integer({ default: 60000, minimum: 0, description: 'On SIGTERM, how long a worker waits for running jobs to checkpoint and hand back; then it kills the training child processes still running (their jobs resume from their last checkpoint elsewhere).' }),
  CHECKPOINT_EVERY: Type.Integer({ default: 1, minimum: 1, description: 'Checkpoint a training job every this many epochs (resume point after a crash).' }),
  JOB_RETENTION_HOURS: Type.Number({ default: 24 * 7, minimum: 0, description: 'How long finished jobs and their history are kept.' }),
});
export type Config = Static<typeof ConfigSchema>;

/** Parses settings from `env` (default: process.env); throws naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(ConfigSchema.properties);
  const raw = Object.fromEntries(Object.entries(env).filter(([k, v]) => known.includes(k) && v !== undefined && v !== ''));
  const value = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const errors = [...Value.Errors(ConfigSchema, value)];
  if (errors.length > 0) {
    throw new Error(`invalid settings: ${errors.map((e) => `${e.path.slice(1)}: ${e.message}`).join('; ')}`);
  }
  return value as Config;
}
