import { Redis } from 'ioredis';

/** A change to the stored models: a model (by id) saved, replaced or deleted, or a name's versions or aliases moved. */
export interface ModelChange {
  id?: string;
  name?: string;
}

/**
 * Model changes over Redis pub/sub (`<prefix>:model-changes`), so every API replica's model cache
 * hears at once of a model deleted, saved or re-aliased through another replica or a worker,
 * instead of within its recheck period (MODEL_CACHE_RECHECK_MS, which still covers a lost message).
 */
export class ModelEvents {
  private readonly publisher: Redis;
  private subscriber?: Redis;
  private readonly channel: string;

  constructor(private readonly redisUrl: string, prefix: string) {
    this.channel = `${prefix}:model-changes`;
    this.publisher = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.publisher.on('error', () => undefined); // reconnects by itself; a lost message is caught by the recheck
  }

  /** Tells every listener (in every process) of `change`; never throws (the recheck covers a lost message). */
  async publish(change: ModelChange): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(change)).catch(() => undefined);
  }

  /** Calls `listener` with each change published from now on (this process's own included). */
  async subscribe(listener: (change: ModelChange) => void): Promise<void> {
    this.subscriber ??= new Redis(this.redisUrl, { maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const { id, name } = JSON.parse(message) as ModelChange;
        listener({ id: typeof id === 'string' ? id : undefined, name: typeof name === 'string' ? name : undefined });
      } catch {
        /* not ours */
      }
    });
    await this.subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
  }
}
