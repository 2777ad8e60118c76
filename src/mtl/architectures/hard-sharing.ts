import * as tf from '@tensorflow/tfjs';
import { ActivationSchema, DropoutSchema, LayerSizes } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import type { Architecture } from './architecture.js';
import { denseStack, headsSize, hiddenDropout, seededInit, stackSize, variablesOf } from './layers.js';

export const HardSharingSchema = variantSchema(
  'type',
  'hard-sharing',
  {
    sharedLayers: LayerSizes('units of each shared (trunk) Dense layer', [128, 64]),
    headLayers: LayerSizes('units of each hidden Dense layer in every task head', []),
    activation: ActivationSchema,
    dropout: DropoutSchema,
  },
  'Hard parameter sharing: one shared trunk, one head per task.',
);
export type HardSharing = VariantOf<typeof HardSharingSchema>;

/** Hard parameter sharing: shared Dense trunk h = f(x; θs) (`shared_<i>`), one head per task y_i = g_i(h; θi) (`<task>_hidden_<j>`, `<task>_logits`). */
export const hardSharing: Architecture<HardSharing> = {
  schema: HardSharingSchema,
  build({ architecture: a, heads, inputSize, seed }) {
    const init = seededInit(seed);
    const drop = hiddenDropout(a.dropout, seed);
    const input = tf.input({ shape: [inputSize], name: 'features' });
    const trunk = denseStack(input, a.sharedLayers, a.activation, init, (i) => `shared_${i}`, drop);
    const towers = heads.map((head) => denseStack(trunk, a.headLayers, a.activation, init, (j) => `${head.name}_hidden_${j}`, drop));
    return { input, towers };
  },
  parts(serving, _heads, a) {
    return { sharedVariables: variablesOf(serving, a.sharedLayers.map((_, i) => `shared_${i}`)) };
  },
  size(a, inputSize, headWidths) {
    const trunk = stackSize(a.sharedLayers, inputSize);
    const heads = headsSize(trunk.out, a.headLayers, headWidths);
    return { parameters: trunk.params + heads.params, units: trunk.units + heads.units };
  },
};
