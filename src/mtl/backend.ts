import * as tf from '@tensorflow/tfjs';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

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
 * libtensorflow, CUDA when the GPU build is installed), `wasm`, or the plain JS `cpu`. `auto`
 * takes the first that loads, in that order. Returns the backend that runs, e.g. 'tensorflow'.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<{ name: string; detail: string }> {
  const attempts: Record<Exclude<BackendPreference, 'auto'>, () => Promise<string | undefined>> = {
    tensorflow: async () => {
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        if ((await tryImport(pkg)) && (await tf.setBackend('tensorflow'))) return pkg;
      }
      return undefined;
    },
    wasm: async () => ((await tryImport('@tensorflow/tfjs-backend-wasm')) && (await tf.setBackend('wasm')) ? '@tensorflow/tfjs-backend-wasm' : undefined),
    cpu: async () => ((await tf.setBackend('cpu')) ? '@tensorflow/tfjs (plain JS)' : undefined),
  };
  const order: (keyof typeof attempts)[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  for (const name of order) {
    const detail = await attempts[name]();
    if (detail) {
      await tf.ready();
      return { name: tf.getBackend(), detail };
    }
  }
  throw new Error(`TensorFlow.js backend '${preference}' could not be loaded (is its package installed?)`);
}
