import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/mtl/backend.js';

/** Selects the backend tests run on (TF_BACKEND, default auto: wasm here) once per test file. */
export async function useTestBackend(): Promise<string> {
  const pref = (process.env.TF_BACKEND ?? 'auto') as 'auto' | 'wasm' | 'cpu' | 'tensorflow';
  const { name } = await selectBackend(pref);
  return name;
}

export { tf };
