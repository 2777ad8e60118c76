/**
 * Synchronous reads of GPU buffers under Dawn's Node.js bindings (npm `webgpu`).
 *
 * WebGPU can only map a buffer for reading asynchronously, and tfjs-backend-webgpu's `readSync`
 * (behind `dataSync`/`arraySync`) needs a browser's OffscreenCanvas, so in Node it throws. The
 * engine reads small values synchronously in a few places inside a step (the loss-weighting
 * strategies' Gram matrices and losses, evaluation), so the webgpu backend here reads them by
 * waiting for the map in place: dawn.node processes its events (where a map completes) in a tick
 * that it schedules with the global `setImmediate` while any request is pending. The hook below
 * routes those native ticks through a list this module can drain on the spot; nothing else
 * changes for them (each still runs once, from the event loop when nobody is waiting). Only
 * native functions are taken: every JavaScript callback keeps the ordinary `setImmediate`.
 *
 * If a future dawn.node schedules its ticks another way, `waitForMap` finds none to run and throws
 * with that explanation rather than spinning forever.
 */

interface PendingTick {
  run: () => void;
  done: boolean;
}

const pending = new Set<PendingTick>();
let installed = false;

function isNative(fn: unknown): fn is (...args: unknown[]) => void {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).includes('[native code]');
}

/** Routes dawn.node's event-processing ticks through `pending`; call before `create()` (idempotent). */
export function installDawnTickHook(): void {
  if (installed) return;
  installed = true;
  const realSetImmediate = globalThis.setImmediate;
  const hooked = function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): NodeJS.Immediate {
    if (!isNative(callback)) return realSetImmediate(callback, ...args);
    const tick: PendingTick = { run: () => callback(...args), done: false };
    pending.add(tick);
    return realSetImmediate(() => runTick(tick));
  };
  globalThis.setImmediate = Object.assign(hooked, realSetImmediate) as typeof globalThis.setImmediate;
}

function runTick(tick: PendingTick): void {
  if (tick.done) return;
  tick.done = true;
  pending.delete(tick);
  tick.run();
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The part of a GPUBuffer this module looks at. */
export interface MappableBuffer {
  readonly mapState: 'unmapped' | 'pending' | 'mapped';
}

/**
 * Runs dawn.node's pending ticks until `buffer` is mapped (its mapAsync has completed); throws
 * when the map failed or when dawn.node has no tick pending that could complete it.
 */
export function waitForMap(buffer: MappableBuffer, mapped: Promise<unknown>): void {
  mapped.catch(() => undefined); // a failed map shows as 'unmapped' below
  for (let spins = 0; buffer.mapState !== 'mapped'; spins++) {
    if (buffer.mapState === 'unmapped') throw new Error('webgpu: the staging buffer was unmapped while waiting for it (map failed or device lost)');
    const ticks = [...pending];
    if (ticks.length === 0) {
      throw new Error('webgpu: cannot read a tensor synchronously: dawn.node scheduled no event processing through setImmediate (was installDawnTickHook called before create()?); use `await tensor.data()`');
    }
    ticks.forEach(runTick);
    // The GPU (or llvmpipe's threads) is working: after a few quick polls, give it the core.
    if (spins > 64) Atomics.wait(sleeper, 0, 0, spins > 1024 ? 1 : 0.05);
  }
}
