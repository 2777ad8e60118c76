import { EventEmitter } from 'node:events';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisConnection } from './connection.js';
import { TRAINING_QUEUE } from './job-types.js';

const ANY = Symbol('any job');
const EVENTS = ['waiting', 'active', 'progress', 'completed', 'failed', 'delayed', 'stalled', 'removed'] as const;

/**
 * One BullMQ QueueEvents reader (Redis stream) per API process, fanned out in process by job id,
 * so any number of live-progress streams cost one Redis connection. Events only say "this job
 * changed": listeners read the job itself, so nothing is lost when an event is.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();
  private readonly queueEvents: QueueEvents;
  private readonly connection: Redis;

  constructor(redisUrl: string, prefix: string) {
    this.emitter.setMaxListeners(0);
    this.connection = createRedisConnection(redisUrl, 'worker');
    this.queueEvents = new QueueEvents(TRAINING_QUEUE, { connection: this.connection, prefix });
    this.queueEvents.on('error', () => undefined); // reconnects by itself; listeners also poll
    for (const name of EVENTS) {
      this.queueEvents.on(name as 'progress', (args: { jobId: string; data?: unknown }) => {
        this.emitter.emit(args.jobId, name);
        this.emitter.emit(ANY, args.jobId, name, args.data);
      });
    }
  }

  /** Calls `listener` whenever the job changes; returns the unsubscribe function. */
  subscribe(jobId: string, listener: (event: string) => void): () => void {
    this.emitter.on(jobId, listener);
    return () => this.emitter.off(jobId, listener);
  }

  /** Calls `listener` for every job's changes (metrics); returns the unsubscribe function. */
  onAny(listener: (jobId: string, event: string, data: unknown) => void): () => void {
    this.emitter.on(ANY, listener);
    return () => this.emitter.off(ANY, listener);
  }

  async close(): Promise<void> {
    this.connection.disconnect(); // ends the blocking stream read at once
    await this.queueEvents.close().catch(() => undefined);
  }
}
