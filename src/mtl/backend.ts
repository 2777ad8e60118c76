import * as tf from '@tensorflow/tfjs';
import { BLAS_BACKEND, registerBlasBackend } from './blas/index.js';
import { describeAdapter, registerWebGpuBackend, WEBGPU_BACKEND, type GpuAdapterSummary } from './webgpu-backend.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'blas' | 'wasm' | 'cpu';

export interface SelectedBackend {
  /** The backend that runs, e.g. 'blas', 'wasm', 'tensorflow'. */
  name: string;
  /** What it is, the kernels replaced where that applies, and why faster choices were skipped (auto). */
  detail: string;
  /** Kernels running natively instead of the stock ones (blas backend); empty otherwise. */
  kernels: string[];
  /** The GPU the `webgpu` backend runs on (absent on the others). */
  adapter?: GpuAdapterSummary;
}

/** Settings of the backends that have any (from src/config.ts). */
export interface BackendOptions {
  /** OpenBLAS threads of the `blas` backend (MTL_BLAS_THREADS; default 1). */
  blasThreads?: number;
  /** Another native addon file for the `blas` backend (MTL_BLAS_ADDON). */
  blasAddon?: string;
}

/** Loads a module that may not be installed, without TypeScript resolving it at build time. */
async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Selects the TensorFlow.js backend: `tensorflow` (tfjs-node-gpu, else tfjs-node: native
 * libtensorflow, CUDA when the GPU build is installed), `webgpu` (tfjs-backend-webgpu on Dawn's
 * Node.js bindings, npm `webgpu`: any Vulkan driver; `auto` takes it for training only on a real
 * GPU, never on a software adapter such as Mesa's llvmpipe), `blas` (the plain JS cpu backend with its
 * matmuls, Adam update, batch gather and bias-gradient sums on the system's OpenBLAS through the
 * optional native addon in native/), `wasm`, or the plain JS `cpu`. `auto` takes the first that
 * loads, in that order for training (fastest first on a CPU machine: see docs/performance.md), and
 * with wasm before blas for `purpose: 'serving'` (the API process). The result says
 * which runs and, for auto, why the ones before it were skipped. `options` carry the blas
 * backend's settings (its first registration in the process keeps them).
 */
export async function selectBackend(preference: BackendPreference = 'auto', purpose: 'training' | 'serving' = 'training', options: BackendOptions = {}): Promise<SelectedBackend> {
  const skipped: string[] = [];
  let kernels: string[] = [];
  let adapter: GpuAdapterSummary | undefined;
  const attempts: Record<Exclude<BackendPreference, 'auto'>, () => Promise<string | undefined>> = {
    tensorflow: async () => {
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        if ((await tryImport(pkg)) && (await tf.setBackend('tensorflow'))) return pkg;
      }
      skipped.push('tensorflow: @tensorflow/tfjs-node(-gpu) not installed');
      return undefined;
    },
    webgpu: async () => {
      // Asked for by name, a software adapter will do (CI on Mesa's llvmpipe); auto wants a GPU.
      const webgpu = await registerWebGpuBackend({ allowSoftware: preference === 'webgpu' });
      if (!webgpu.ok) {
        skipped.push(`webgpu: ${webgpu.reason}`);
        return undefined;
      }
      if (!(await tf.setBackend(WEBGPU_BACKEND))) {
        skipped.push('webgpu: the backend did not initialise (device request failed)');
        return undefined;
      }
      adapter = webgpu.adapter;
      return `@tensorflow/tfjs-backend-webgpu on Dawn (npm webgpu), adapter: ${describeAdapter(webgpu.adapter)}`;
    },
    blas: async () => {
      const blas = registerBlasBackend({ threads: options.blasThreads, addonPath: options.blasAddon });
      if (!blas.ok) {
        skipped.push(`blas: ${blas.reason}`);
        return undefined;
      }
      if (!(await tf.setBackend(BLAS_BACKEND))) return undefined;
      kernels = blas.kernels;
      return `tfjs cpu backend + native ${blas.library}: ${blas.kernels.join(', ')}`;
    },
    wasm: async () => ((await tryImport('@tensorflow/tfjs-backend-wasm')) && (await tf.setBackend('wasm')) ? '@tensorflow/tfjs-backend-wasm' : undefined),
    cpu: async () => ((await tf.setBackend('cpu')) ? '@tensorflow/tfjs (plain JS)' : undefined),
  };
  // Serving runs many small forward passes, where wasm beat blas here (docs/serving.md, "Backend for serving"); training
  // runs large matmuls and backward passes, where blas wins (docs/performance.md).
  // WebGPU only for training, and only on a real GPU (registerWebGpuBackend refuses a software adapter here).
  const autoOrder: (keyof typeof attempts)[] = purpose === 'serving' ? ['tensorflow', 'wasm', 'blas', 'cpu'] : ['tensorflow', 'webgpu', 'blas', 'wasm', 'cpu'];
  const order: (keyof typeof attempts)[] = preference === 'auto' ? autoOrder : [preference];
  for (const name of order) {
    const detail = await attempts[name]();
    if (detail) {
      await tf.ready();
      const skippedFaster = preference === 'auto' ? skipped.filter((s) => !s.startsWith('tensorflow:')) : [];
      return { name: tf.getBackend(), detail: skippedFaster.length > 0 ? `${detail} (skipped ${skippedFaster.join('; ')})` : detail, kernels, ...(adapter ? { adapter } : {}) };
    }
  }
  throw new Error(`TensorFlow.js backend '${preference}' could not be loaded${skipped.length > 0 ? `: ${skipped.join('; ')}` : ' (is its package installed?)'}`);
}
