import type { EventEmitter } from 'node:events';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { STUDY_JOB, STUDY_QUEUE, type StudyJobData } from './study-types.js';

export interface StudyQueueOptions {
  prefix: string;
  retentionHours: number;
}

/**
 * The API's side of the study queue: one job per study, whose processor (the study driver, run by
 * any worker process) plans the trials and queues them on the training queue. The job's id is the
 * study's id. It does not own the connection it is given.
 */
export class StudyQueue {
  readonly queue: Queue<StudyJobData>;

  constructor(connection: Redis, options: StudyQueueOptions) {
    const retention = { age: Math.round(options.retentionHours * 3600), count: 10000 };
    this.queue = new Queue(STUDY_QUEUE, {
      connection,
      prefix: options.prefix,
      // A driver that fails (Redis away) starts again where the study's record says it was.
      defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: retention, removeOnFail: retention },
    });
    this.queue.on('error', () => undefined);
  }

  async enqueue(studyId: string): Promise<void> {
    await this.queue.add(STUDY_JOB, { studyId }, { jobId: studyId });
  }

  /** Marks the study cancelled for its driver (it cancels every trial); false when it has no job. */
  async requestCancel(studyId: string): Promise<boolean> {
    const job = await this.queue.getJob(studyId);
    if (!job) return false;
    if (!job.data.cancelRequestedAt) await job.updateData({ ...job.data, cancelRequestedAt: new Date().toISOString() });
    return true;
  }

  async close(): Promise<void> {
    await this.queue.close();
    (this.queue as unknown as { connection?: EventEmitter }).connection?.on('error', () => undefined);
  }
}
