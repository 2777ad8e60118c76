import * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { ActivationSchema, DropoutSchema, LayerSizes } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { CrossStitch } from '../layers/cross-stitch.js';
import type { Architecture, HeadSpec } from './architecture.js';
import { denseStack, headsSize, hiddenDropout, seededInit, stackSize, variablesOf, withDropout } from './layers.js';

export const SoftSharingSchema = variantSchema(
  'type',
  'soft-sharing',
  {
    sharedLayers: LayerSizes('units of each layer of every task tower', [64, 32]),
    headLayers: LayerSizes('units of each hidden Dense layer in every task head', []),
    activation: ActivationSchema,
    dropout: DropoutSchema,
    crossStitch: Type.Boolean({ default: true, description: 'mix the towers after each layer with learned cross-stitch units' }),
    tie: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'strength of the L2 penalty pulling the task towers\' weights together' }),
  },
  'Soft parameter sharing: a tower per task, mixed by cross-stitch units and/or tied by an L2 penalty.',
);
export type SoftSharing = VariantOf<typeof SoftSharingSchema>;

/**
 * Soft parameter sharing: one tower per task (`<task>_tower_<l>`, the sizes of `sharedLayers`),
 * then the task's `headLayers` (`<task>_hidden_<j>`) and `<task>_logits`. With `crossStitch` (and
 * two or more tasks) a cross-stitch unit `shared_cross_stitch_<l>` mixes the towers after each
 * tower layer l. With `tie` > 0 the towers' kernels are pulled together by an L2 penalty.
 *
 * Shared variables: with cross-stitch units, every tower layer and every α (each task's loss
 * reaches every tower through the mixing), level by level; without them the towers are disjoint
 * and the list is empty. Regularisation (tie > 0, two or more tasks):
 * tie · Σ_l Σ_{i<j} ‖W_i^l − W_j^l‖² over the towers' kernels at each level (biases are not tied).
 */
export const softSharing: Architecture<SoftSharing> = {
  schema: SoftSharingSchema,
  check(a) {
    return a.sharedLayers.length === 0 ? [{ pointer: '/architecture/sharedLayers', detail: 'soft-sharing needs at least one tower layer' }] : [];
  },
  build({ architecture: a, heads, inputSize, seed }) {
    const init = seededInit(seed);
    const drop = hiddenDropout(a.dropout, seed);
    const input = tf.input({ shape: [inputSize], name: 'features' });
    let towers: tf.SymbolicTensor[] = heads.map(() => input);
    a.sharedLayers.forEach((units, l) => {
      towers = heads.map((head, t) =>
        withDropout(tf.layers.dense({ units, activation: a.activation, kernelInitializer: init(), name: towerName(head, l) }).apply(towers[t]) as tf.SymbolicTensor, drop, towerName(head, l)),
      );
      if (stitched(a, heads)) towers = new CrossStitch({ name: crossStitchName(l) }).apply(towers) as tf.SymbolicTensor[];
    });
    return { input, towers: heads.map((head, t) => denseStack(towers[t], a.headLayers, a.activation, init, (j) => `${head.name}_hidden_${j}`, drop)) };
  },
  parts(serving, heads, a) {
    const sharedVariables = stitched(a, heads)
      ? variablesOf(serving, a.sharedLayers.flatMap((_, l) => [...heads.map((h) => towerName(h, l)), crossStitchName(l)]))
      : [];
    if (a.tie <= 0 || heads.length < 2) return { sharedVariables };
    const kernels = a.sharedLayers.map((_, l) => heads.map((h) => kernelOf(serving, towerName(h, l))));
    return { sharedVariables, regularization: () => tiePenalty(kernels, a.tie) };
  },
  size(a, inputSize, headWidths) {
    const T = headWidths.length;
    const tower = stackSize(a.sharedLayers, inputSize);
    const heads = headsSize(tower.out, a.headLayers, headWidths);
    const stitches = a.crossStitch ? a.sharedLayers.length * T * T : 0;
    return { parameters: T * tower.params + stitches + heads.params, units: T * tower.units + heads.units };
  },
};

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
