import type * as tf from '@tensorflow/tfjs';

type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** The parts of tfjs-backend-cpu's MathBackendCPU the blas kernels use. */
export interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: BackendValues; refCount: number } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: BackendValues): tf.TensorInfo;
}

export type KernelArgs = { inputs: Record<string, tf.TensorInfo | null | undefined>; backend: CpuBackend; attrs?: Record<string, unknown> };
/** A kernel function as the blas backend registers it (tfjs's KernelFunc, typed for the cpu backend). */
export type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** The float32 values of a tensor on a cpu-based backend, or null when it holds another dtype. */
export const f32 = (backend: CpuBackend, t: tf.TensorInfo): Float32Array | null => {
  const v = backend.data.get(t.dataId).values;
  return t.dtype === 'float32' && v instanceof Float32Array ? v : null;
};

/** Whether two shapes are the same. */
export function sameShape(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
