import { WEIGHTED_SUM_KERNEL } from './kernel-names.js';
import { f32, type Kernel } from './kernel.js';

const fr = Math.fround;

/** Σ_t fround(l_t · w_t), accumulated in float32 from 0 in task order, as `losses.reduce(add(acc, mul(l, w)))` does. */
export const weightedSumKernel: Kernel = (args) => {
  const weights = args.attrs?.weights as number[];
  let acc = 0;
  for (let t = 0; t < weights.length; t++) {
    const v = f32(args.backend, args.inputs[`l${t}`]!);
    if (!v || v.length !== 1) throw new Error(`${WEIGHTED_SUM_KERNEL}: float32 scalars l0…l${weights.length - 1} expected`);
    acc = fr(acc + fr(v[0] * fr(weights[t])));
  }
  return args.backend.makeTensorInfo([], 'float32', Float32Array.of(acc));
};
