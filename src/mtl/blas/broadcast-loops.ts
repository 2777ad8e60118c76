import * as tf from '@tensorflow/tfjs';

/**
 * A broadcast of shapes a and b as at most three nested loops: the output's dims with size-1 dims
 * dropped and neighbours merged where both operands continue contiguously (or both repeat), and
 * each operand's stride per loop (0 where it is broadcast). Null beyond three loops.
 */
export function broadcastLoops(aShape: number[], bShape: number[]): { outShape: number[]; dims: number[]; sa: number[]; sb: number[] } | null {
  let outShape: number[];
  try {
    outShape = tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const r = outShape.length;
  const sA = alignedStrides(aShape, r);
  const sB = alignedStrides(bShape, r);
  const dims: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < r; i++) {
    if (outShape[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && sa[last] === sA[i] * outShape[i] && sb[last] === sB[i] * outShape[i]) {
      dims[last] *= outShape[i];
      sa[last] = sA[i];
      sb[last] = sB[i];
    } else {
      dims.push(outShape[i]);
      sa.push(sA[i]);
      sb.push(sB[i]);
    }
  }
  if (dims.length > 3) return null;
  while (dims.length < 3) {
    dims.unshift(1);
    sa.unshift(0);
    sb.unshift(0);
  }
  return { outShape, dims, sa, sb };
}

/** Strides of `shape` aligned to the last `rank` dims of a broadcast output, 0 where it repeats. */
function alignedStrides(shape: number[], rank: number): number[] {
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = rank - 1, j = shape.length - 1; i >= 0 && j >= 0; i--, j--) {
    s[i] = shape[j] === 1 ? 0 : acc;
    acc *= shape[j];
  }
  return s;
}
