import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendPreference } from '../../src/mtl/backend.js';

/** Selects the backend tests run on (TF_BACKEND, default auto: blas where the native addon is built, else wasm) once per test file. */
export async function useTestBackend(): Promise<string> {
  const pref = (process.env.TF_BACKEND ?? 'auto') as BackendPreference;
  const { name } = await selectBackend(pref);
  return name;
}

export { tf };
