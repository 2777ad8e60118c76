import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobView } from '../queue/training-queue.js';
import type { AppServices } from './plugins/services.js';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const POLL_MS = 2000;
const HEARTBEAT_MS = 15000;

/**
 * Streams a job as Server-Sent Events: `state` events when its state changes, one `epoch` event
 * (id = epoch number) per finished epoch with every task's loss and metric and the loss weights,
 * and a final `end` event. A client that reconnects with Last-Event-ID gets only the epochs after
 * it. Works whichever process trains the job: it follows the job in Redis. `open` holds the close
 * functions of the streams still running, so a shutting-down server can end them.
 */
export async function streamJobEvents(services: AppServices, request: FastifyRequest, reply: FastifyReply, jobId: string, lastEventId: number, open: Set<() => void>): Promise<void> {
  const first = await services.trainingQueue.get(jobId); // 404 before the stream starts
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write('retry: 2000\n\n');

  let sentEpoch = lastEventId;
  let sentState: string | null = null;
  let closed = false;
  let queue = Promise.resolve();
  const write = (event: string, data: unknown, id?: number) => {
    if (!closed) raw.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const send = (view: JobView) => {
    if (view.state !== sentState) {
      sentState = view.state;
      write('state', { id: view.id, state: view.state, progress: view.progress, modelId: view.modelId, error: view.error });
    }
    for (const epoch of view.history) {
      if (epoch.epoch > sentEpoch) {
        write('epoch', epoch, epoch.epoch);
        sentEpoch = epoch.epoch;
      }
    }
    if (TERMINAL.has(view.state)) {
      write('end', { state: view.state, modelId: view.modelId, error: view.error });
      close();
    }
  };
  // Reads are chained so events go out in order even when changes arrive faster than reads.
  const refresh = () => {
    queue = queue.then(async () => {
      if (closed) return;
      try {
        send(await services.trainingQueue.get(jobId));
      } catch (err) {
        request.log.debug({ err: (err as Error).message }, 'job event stream: read failed, will retry');
      }
    });
  };
  const unsubscribe = services.jobEvents.subscribe(jobId, refresh);
  const poll = setInterval(refresh, POLL_MS);
  const heartbeat = setInterval(() => !closed && raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
  open.add(close);
  function close() {
    if (closed) return;
    closed = true;
    open.delete(close);
    unsubscribe();
    clearInterval(poll);
    clearInterval(heartbeat);
    raw.end();
  }
  request.raw.on('close', close);
  send(first);
}
