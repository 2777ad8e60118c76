/**
 * The composition root: what every process of the service is built from — its settings, its root
 * logger, where Redis is, the stores under DATA_DIR and how it shuts down. The entry points
 * (src/main.ts, src/server.ts, src/worker/main.ts) and the sandboxed training processor start
 * here; nothing below them imports this file. It stays light (no Fastify, no BullMQ worker): the
 * training processor's child processes load it too.
 */
import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from './config.js';
import { loggerOptions } from './logger.js';
import { LOCAL_REDIS_URL, resolveRedis, type RedisEndpoint } from './queue/local-redis.js';
import { CheckpointStore } from './store/checkpoint-store.js';
import { DatasetStore } from './store/dataset-store.js';
import { ModelStore } from './store/model-store.js';
import { FileStudyStore, type StudyStore } from './store/study-store.js';
import type { ObjectStore } from './store/object-store.js';
import { openObjectStore } from './store/object-stores.js';

/** The service's processes: each logs under its own name. */
export type Component = 'mtl' | 'api' | 'worker' | 'trainer';

/** Datasets, models and training checkpoints, each under its prefix of the object store (STORE_URL, else DATA_DIR); studies in their folder under DATA_DIR. */
export interface Stores {
  /** The object store they share (for readiness probes and closing). */
  objects: ObjectStore;
  datasets: DatasetStore;
  models: ModelStore;
  checkpoints: CheckpointStore;
  studies: StudyStore;
}

export interface ProcessRoot {
  config: Config;
  logger: Logger;
  stores: Stores;
}

/** Loads the settings (throws naming each bad variable) and builds the logger and stores of one process. */
export function composeRoot(component: Component, env: Record<string, string | undefined> = process.env): ProcessRoot {
  const config = loadConfig(env);
  return { config, logger: rootLogger(config, component), stores: createStores(config) };
}

/** The process's root logger: pino JSON (pretty on a terminal) at LOG_LEVEL, named after the component. */
export function rootLogger(config: Pick<Config, 'LOG_LEVEL'>, component: Component): Logger {
  return pino(loggerOptions(config.LOG_LEVEL, component));
}

type StoreConfig = Pick<Config, 'DATA_DIR'> & Partial<Pick<Config, 'STORE_URL' | 'S3_ENDPOINT' | 'S3_FORCE_PATH_STYLE' | 'REDIS_URL'>>;

/**
 * The stores every process shares through STORE_URL (else DATA_DIR): `datasets/`, `models/`,
 * `checkpoints/`. Nothing touches the store until they are used (`verifyStores` checks it at start).
 */
export function createStores(config: StoreConfig): Stores {
  const objects = openObjectStore({
    url: config.STORE_URL,
    dataDir: config.DATA_DIR,
    s3Endpoint: config.S3_ENDPOINT,
    s3ForcePathStyle: config.S3_FORCE_PATH_STYLE,
    redisUrl: redisUrlOf(config),
  });
  return {
    objects,
    datasets: new DatasetStore(objects.at('datasets')),
    models: new ModelStore(objects.at('models')),
    checkpoints: new CheckpointStore(objects.at('checkpoints')),
    studies: new FileStudyStore(join(config.DATA_DIR, 'studies')),
  };
}

/**
 * At start: a store that cannot be used (missing bucket, refused credentials, unreachable) stops
 * the process with one fatal line naming STORE_URL and what is wrong, rather than failing later
 * on the first upload or job.
 */
export async function verifyStoresOrExit(stores: Pick<Stores, 'objects'>, logger: Logger): Promise<void> {
  try {
    await stores.objects.verify();
  } catch (err) {
    logger.fatal((err as Error).message);
    process.exit(1);
  }
}

/** The Redis of a process that only connects (API alone, worker): REDIS_URL, else the one on this machine. */
export function redisUrlOf(config: Partial<Pick<Config, 'REDIS_URL'>>): string {
  return config.REDIS_URL ?? LOCAL_REDIS_URL;
}

/**
 * The Redis of `npm start` (everything on one machine): REDIS_URL, else the one on this machine,
 * else a private redis-server with its files under DATA_DIR/redis (`stop()` stops it).
 */
export function resolveOneMachineRedis(config: Pick<Config, 'REDIS_URL' | 'DATA_DIR'>): Promise<RedisEndpoint> {
  return resolveRedis({ redisUrl: config.REDIS_URL, dir: join(config.DATA_DIR, 'redis'), persist: true });
}

/** A Redis URL fit for a log line: any user and password replaced by `***`. */
export function maskRedisUrl(url: string): string {
  return url.replace(/\/\/[^@]*@/, '//***@');
}

export interface GracefulCloseArgs {
  logger: Logger;
  /** Logged when a signal starts the shutdown (with the signal and `details`). */
  message: string;
  details?: Record<string, unknown>;
  /** After this long the process exits with code 1 whether or not `close` finished. */
  delayMs: number;
}

/**
 * On SIGTERM / SIGINT (and the other termination signals), or an uncaught error, runs `close` once,
 * then exits: 0 after a signal, 1 after an error, a second signal or `delayMs` (close-with-grace).
 */
export function closeGracefully(args: GracefulCloseArgs, close: () => Promise<void>): void {
  const { logger } = args;
  closeWithGrace({ delay: args.delayMs, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'closing after an error');
    else logger.info({ signal, ...args.details }, args.message);
    await close();
  });
}
