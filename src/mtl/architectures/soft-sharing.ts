import * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import { seededInit, variablesOf, type ArchitectureGraph, type BuildModelArgs, type HeadSpec, type MultiTaskModel } from '../model-builder.js';
import { CrossStitch } from '../layers/cross-stitch.js';

type SoftSharing = Extract<ResolvedArchitecture, { type: 'soft-sharing' }>;

/**
 * Soft parameter sharing: one tower per task (`<task>_tower_<l>`, the sizes of `sharedLayers`),
 * then the task's `headLayers` (`<task>_hidden_<j>`) and `<task>_logits`. With `crossStitch` (and
 * two or more tasks) a cross-stitch unit `shared_cross_stitch_<l>` mixes the towers after each
 * tower layer l. With `tie` > 0 the towers' kernels are pulled together by an L2 penalty
 * (see softSharingParts).
 */
export function buildSoftSharing(args: BuildModelArgs<SoftSharing>): ArchitectureGraph {
  const { architecture: a, heads } = args;
  const init = seededInit(args.seed);
  const input = tf.input({ shape: [args.inputSize], name: 'features' });
  let towers: tf.SymbolicTensor[] = heads.map(() => input);
  a.sharedLayers.forEach((units, l) => {
    towers = heads.map((head, t) =>
      tf.layers.dense({ units, activation: a.activation, kernelInitializer: init(), name: towerName(head, l) }).apply(towers[t]) as tf.SymbolicTensor,
    );
    if (stitched(a, heads)) towers = new CrossStitch({ name: crossStitchName(l) }).apply(towers) as tf.SymbolicTensor[];
  });
  const logits = heads.map((head, t) => {
    let h = towers[t];
    a.headLayers.forEach((units, j) => {
      h = tf.layers.dense({ units, activation: a.activation, kernelInitializer: init(), name: `${head.name}_hidden_${j}` }).apply(h) as tf.SymbolicTensor;
    });
    return tf.layers.dense({ units: head.width, kernelInitializer: init(), name: `${head.name}_logits` }).apply(h) as tf.SymbolicTensor;
  });
  return { input, logits };
}

/**
 * Shared variables: with cross-stitch units, every tower layer and every α (each task's loss reaches
 * every tower through the mixing), level by level; without them the towers are disjoint and the
 * list is empty. Regularisation (tie > 0, two or more tasks): tie · Σ_l Σ_{i<j} ‖W_i^l − W_j^l‖²
 * over the towers' kernels at each level (biases are not tied).
 */
export function softSharingParts(serving: tf.LayersModel, heads: HeadSpec[], a: SoftSharing): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  const sharedVariables = stitched(a, heads)
    ? variablesOf(serving, a.sharedLayers.flatMap((_, l) => [...heads.map((h) => towerName(h, l)), crossStitchName(l)]))
    : [];
  if (a.tie <= 0 || heads.length < 2) return { sharedVariables };
  const kernels = a.sharedLayers.map((_, l) => heads.map((h) => kernelOf(serving, towerName(h, l))));
  return { sharedVariables, regularization: () => tiePenalty(kernels, a.tie) };
}

/** tie · Σ_levels Σ_{i<j} ‖W_i − W_j‖² for the kernels of each level's towers. */
export function tiePenalty(kernelsByLevel: tf.Tensor[][], tie: number): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    for (const kernels of kernelsByLevel) {
      for (let i = 0; i < kernels.length; i++) {
        for (let j = i + 1; j < kernels.length; j++) terms.push(tf.sum(tf.square(tf.sub(kernels[i], kernels[j]))));
      }
    }
    return tf.mul(terms.length > 0 ? tf.addN(terms) : tf.scalar(0), tie);
  });
}

function stitched(a: SoftSharing, heads: HeadSpec[]): boolean {
  // One tower has nothing to mix with: its cross-stitch would be α = [[1]], the identity.
  return a.crossStitch && heads.length > 1;
}

function towerName(head: HeadSpec, level: number): string {
  return `${head.name}_tower_${level}`;
}

function crossStitchName(level: number): string {
  return `shared_cross_stitch_${level}`;
}

function kernelOf(model: tf.LayersModel, layerName: string): tf.Variable {
  const kernel = model.getLayer(layerName).trainableWeights.find((w) => w.originalName.split('/').pop() === 'kernel');
  if (!kernel) throw new Error(`layer '${layerName}' has no kernel`);
  return kernel.read() as tf.Variable;
}
