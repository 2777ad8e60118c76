import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../../src/config.js';
import { selectBackend } from '../../src/mtl/backend.js';

/** Selects the backend tests run on (TF_BACKEND, default auto: blas where the native addon is built, else wasm) once per test file. */
export async function useTestBackend(): Promise<string> {
  const config = loadConfig();
  const { name } = await selectBackend(config.TF_BACKEND, 'training', { blasThreads: config.MTL_BLAS_THREADS, blasAddon: config.MTL_BLAS_ADDON });
  return name;
}

export { tf };
