import * as tf from '@tensorflow/tfjs';
import { installDawnTickHook, waitForMap, type MappableBuffer } from './dawn-sync-read.js';

/** The backend's name in tfjs (what tf.getBackend() says). */
export const WEBGPU_BACKEND = 'webgpu';

/** The GPU that WebGPU found, as Dawn describes it. */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  /** A software or fallback adapter (Mesa's llvmpipe/lavapipe, SwiftShader): WebGPU on the CPU. */
  software: boolean;
}

/** One line for logs and metadata: "nvidia ampere (NVIDIA GeForce RTX 3090)", "+ software" when it is. */
export function describeAdapter(a: GpuAdapterSummary): string {
  const name = [a.vendor, a.architecture].filter((s) => s !== '').join(' ') || 'unknown adapter';
  const detail = a.description || a.device;
  return `${name}${detail ? ` (${detail})` : ''}${a.software ? ', software' : ''}`;
}

/** What an absent adapter most likely means, for the refusal message. */
export const NO_ADAPTER_HINT =
  'no WebGPU adapter: Dawn found no Vulkan driver. On a GPU host install the NVIDIA driver and expose its Vulkan ICD to the container ' +
  '(NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics); on a CPU machine install Mesa ≥ 24 (mesa-vulkan-drivers from bookworm-backports) for software Vulkan';

type RegisterResult = { ok: true; adapter: GpuAdapterSummary } | { ok: false; reason: string; adapter?: GpuAdapterSummary };

interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<AdapterLike | null>;
}
interface WebGpuModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
/** The parts of tfjs-backend-webgpu's WebGPUBackend that the synchronous read uses. */
interface WebGpuBackendInternals {
  tensorMap: { get(dataId: object): { values: tf.backend_util.BackendValues | null; dtype: tf.DataType; resource: { size: number } | null } };
  bufferManager: {
    acquireBuffer(size: number, usage: number): MappableBuffer & { mapAsync(mode: number): Promise<undefined>; getMappedRange(): ArrayBuffer; unmap(): void };
    releaseBuffer(buffer: unknown): void;
  };
  commandEncoder: { copyBufferToBuffer(src: unknown, srcOffset: number, dst: unknown, dstOffset: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  readSync(dataId: object): tf.backend_util.BackendValues;
}

interface Found {
  gpu: GpuLike;
  adapter: AdapterLike;
  summary: GpuAdapterSummary;
  WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
}

let found: Promise<Found | { reason: string }> | null = null;
let registered = false;

/**
 * Registers the `webgpu` backend on Dawn (npm `webgpu`): a `navigator.gpu` from dawn.node, the
 * high-performance adapter, and tfjs-backend-webgpu's backend on a device of it, whose `readSync`
 * waits for the GPU in place (dawn-sync-read.ts) instead of needing a browser canvas. Does not
 * switch to it. Says why not when either package is missing or no adapter exists (no Vulkan
 * driver), and, unless `allowSoftware`, when the adapter is a software one (nothing is then
 * registered). The adapter is looked for once per process.
 */
export async function registerWebGpuBackend(options: { allowSoftware?: boolean } = {}): Promise<RegisterResult> {
  found ??= findAdapter();
  const f = await found;
  if ('reason' in f) return { ok: false, reason: f.reason };
  if (f.summary.software && !options.allowSoftware) {
    return { ok: false, reason: `the adapter is a software one (${describeAdapter(f.summary)}): WebGPU would run on the CPU`, adapter: f.summary };
  }
  if (!registered) {
    register(f);
    registered = true;
  }
  return { ok: true, adapter: f.summary };
}

/** The adapter WebGPU would run on, or why there is none (packages missing, no Vulkan driver); registers nothing. */
export async function findWebGpuAdapter(): Promise<{ ok: true; adapter: GpuAdapterSummary } | { ok: false; reason: string }> {
  found ??= findAdapter();
  const f = await found;
  return 'reason' in f ? { ok: false, reason: f.reason } : { ok: true, adapter: f.summary };
}

async function findAdapter(): Promise<Found | { reason: string }> {
  let WebGPUBackend: Found['WebGPUBackend'];
  try {
    // tfjs-backend-webgpu registers a backend of its own at import when navigator.gpu exists: import it first.
    ({ WebGPUBackend } = (await import('@tensorflow/tfjs-backend-webgpu' as string)) as { WebGPUBackend: Found['WebGPUBackend'] });
  } catch (err) {
    return { reason: `@tensorflow/tfjs-backend-webgpu not installed (${(err as Error).message})` };
  }
  installDawnTickHook();
  let dawn: WebGpuModule;
  try {
    dawn = (await import('webgpu' as string)) as WebGpuModule;
  } catch (err) {
    return { reason: `the npm package 'webgpu' (dawn.node) is not installed or does not load here (${(err as Error).message})` };
  }
  try {
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { reason: NO_ADAPTER_HINT };
    for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
    return { gpu, adapter, summary: summarise(adapter), WebGPUBackend };
  } catch (err) {
    return { reason: `${NO_ADAPTER_HINT} (${(err as Error).message})` };
  }
}

function register({ gpu, adapter, WebGPUBackend }: Found): void {
  if (tf.findBackendFactory(WEBGPU_BACKEND)) tf.removeBackend(WEBGPU_BACKEND);
  tf.registerBackend(
    WEBGPU_BACKEND,
    async () => {
      // As tfjs-backend-webgpu's own factory: the adapter's limits, so large layers fit in one binding.
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: Object.fromEntries(
          ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, limits[k]]),
        ),
      });
      const backend = new WebGPUBackend(device, adapter.info) as unknown as WebGpuBackendInternals;
      backend.readSync = (dataId) => readSyncInPlace(backend, dataId);
      return backend as unknown as tf.KernelBackend;
    },
    0, // never tfjs's own pick: selectBackend chooses
  );
  // tfjs-backend-webgpu looks for navigator.gpu when it checks support; the device comes from the adapter above.
  const nav = (globalThis as unknown as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

function summarise(adapter: AdapterLike): GpuAdapterSummary {
  const info = adapter.info ?? {};
  const text = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : '');
  const [vendor, architecture, description, device] = ['vendor', 'architecture', 'description', 'device'].map(text);
  const software =
    info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|software/i.test(`${architecture} ${description} ${device}`);
  return { vendor, architecture, description, device, software };
}

/** tfjs-backend-webgpu's read (copy to a staging buffer, map it), waited for in place rather than awaited. */
function readSyncInPlace(backend: WebGpuBackendInternals, dataId: object): tf.backend_util.BackendValues {
  const data = backend.tensorMap.get(dataId);
  if (data.values != null || data.dtype === 'string') return data.values!;
  if (data.dtype === 'complex64' || data.resource == null) throw new Error(`webgpu: synchronous read of a ${data.dtype} tensor is not supported; use await tensor.data()`);
  const source = data.resource;
  const staging = backend.bufferManager.acquireBuffer(source.size, GPU_BUFFER_USAGE.COPY_DST | GPU_BUFFER_USAGE.MAP_READ);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder.copyBufferToBuffer(source, 0, staging, 0, source.size);
  backend.submitQueue();
  waitForMap(staging, staging.mapAsync(GPU_MAP_MODE_READ));
  const bytes = staging.getMappedRange().slice(0);
  staging.unmap();
  backend.bufferManager.releaseBuffer(staging);
  const values = tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype);
  data.values = values; // cached on the CPU, as tfjs-backend-webgpu's own read does
  return values;
}

/** WebGPU's constants (GPUBufferUsage.COPY_DST, MAP_READ; GPUMapMode.READ), fixed by the specification. */
const GPU_BUFFER_USAGE = { MAP_READ: 0x0001, COPY_DST: 0x0008 } as const;
const GPU_MAP_MODE_READ = 0x0001;
