import * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { ActivationSchema, DropoutSchema, LayerSizes } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { GatedMixture } from '../layers/gated-mixture.js';
import type { Architecture } from './architecture.js';
import { denseStack, expertsSize, hiddenDropout, range, seededInit, variablesOf } from './layers.js';

export const MmoeSchema = variantSchema(
  'type',
  'mmoe',
  {
    experts: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'number of shared experts' }),
    expertLayers: LayerSizes('units of each Dense layer of an expert', [64]),
    towerLayers: LayerSizes('units of each Dense layer of a task tower', [32]),
    activation: ActivationSchema,
    dropout: DropoutSchema,
  },
  'Multi-gate Mixture-of-Experts: shared experts, a softmax gate per task.',
);
export type Mmoe = VariantOf<typeof MmoeSchema>;

/**
 * Multi-gate Mixture-of-Experts (Ma et al., KDD 2018): `experts` shared expert networks on the input
 * (`shared_expert_<e>_<l>`), per task a softmax gate over the experts (`<task>_gate`), the gate's
 * mixture Σ_e g_e · expert_e (`<task>_mixture`), then the task's tower (`<task>_tower_<l>`) and
 * `<task>_logits`. Shared variables: every expert's weights (each task's gate reads every expert).
 */
export const mmoe: Architecture<Mmoe> = {
  schema: MmoeSchema,
  check(a) {
    return a.expertLayers.length === 0 ? [{ pointer: '/architecture/expertLayers', detail: 'mmoe experts need at least one layer' }] : [];
  },
  build({ architecture: a, heads, inputSize, seed }) {
    const init = seededInit(seed);
    const drop = hiddenDropout(a.dropout, seed);
    const input = tf.input({ shape: [inputSize], name: 'features' });
    const experts = range(a.experts).map((e) => denseStack(input, a.expertLayers, a.activation, init, (l) => expertName(e, l), drop));
    const towers = heads.map((head) => {
      const gate = tf.layers.dense({ units: a.experts, activation: 'softmax', kernelInitializer: init(), name: `${head.name}_gate` }).apply(input) as tf.SymbolicTensor;
      const mixed = new GatedMixture({ name: `${head.name}_mixture` }).apply([gate, ...experts]) as tf.SymbolicTensor;
      return denseStack(mixed, a.towerLayers, a.activation, init, (l) => `${head.name}_tower_${l}`, drop);
    });
    return { input, towers };
  },
  parts(serving, _heads, a) {
    return { sharedVariables: variablesOf(serving, range(a.experts).flatMap((e) => a.expertLayers.map((_, l) => expertName(e, l)))) };
  },
  size(a, inputSize, headWidths) {
    return expertsSize(a.experts, a.expertLayers, a.towerLayers, inputSize, headWidths);
  },
};

function expertName(expert: number, layer: number): string {
  return `shared_expert_${expert}_${layer}`;
}
