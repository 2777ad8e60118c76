import * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { ActivationSchema, DropoutSchema, LayerSizes } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { GatedMixture } from '../layers/gated-mixture.js';
import { DSelectKGate, isPowerOfTwo } from '../layers/dselect-k-gate.js';
import type { Architecture, HeadSpec } from './architecture.js';
import { denseStack, headsSize, hiddenDropout, range, seededInit, stackSize, variablesOf } from './layers.js';

export const DSelectKSchema = variantSchema(
  'type',
  'dselect-k',
  {
    experts: Type.Integer({ minimum: 2, maximum: 64, default: 4, description: 'number of shared experts' }),
    k: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'experts each task\'s gate selects (at most k non-zero weights once converged)' }),
    gamma: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 1, description: 'width γ of the smooth-step\'s cubic region (the gate is exactly sparse once every selector logit is beyond ±γ/2)' }),
    perExample: Type.Boolean({ default: true, description: 'gate on each row\'s input (like an MMoE gate); false: one learned selection per task' }),
    entropy: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'weight of the entropy regulariser on the selectors (pushes the gate to sparsity faster; 0 off)' }),
    expertLayers: LayerSizes('units of each Dense layer of an expert', [64]),
    towerLayers: LayerSizes('units of each Dense layer of a task tower', [32]),
    activation: ActivationSchema,
    dropout: DropoutSchema,
  },
  'DSelect-k: shared experts, a k-sparse differentiable selector gate per task.',
);
export type DSelectK = VariantOf<typeof DSelectKSchema>;

/**
 * DSelect-k (Hazimeh et al., NeurIPS 2021) in the MMoE layout: `experts` shared expert networks
 * on the input (`shared_expert_<e>_<l>`), per task a DSelect-k gate (`<task>_gate`, see
 * layers/dselect-k-gate.ts) whose weights become exactly k-sparse as training saturates its
 * smooth-steps, the gate's mixture (`<task>_mixture`), then the task's tower (`<task>_tower_<l>`).
 * Shared variables: every expert's weights. Regularisation: each gate's penalty on the step's
 * batch (entropy when `entropy` > 0; the reachability term when `experts` is not a power of two).
 */
export const dselectK: Architecture<DSelectK> = {
  schema: DSelectKSchema,
  check(a) {
    const errors = [];
    if (a.expertLayers.length === 0) errors.push({ pointer: '/architecture/expertLayers', detail: 'dselect-k experts need at least one layer' });
    if (a.k > a.experts) errors.push({ pointer: '/architecture/k', detail: `k (${a.k}) cannot exceed the number of experts (${a.experts})` });
    return errors;
  },
  build({ architecture: a, heads, inputSize, seed }) {
    const init = seededInit(seed);
    const drop = hiddenDropout(a.dropout, seed);
    const input = tf.input({ shape: [inputSize], name: 'features' });
    const experts = range(a.experts).map((e) => denseStack(input, a.expertLayers, a.activation, init, (l) => expertName(e, l), drop));
    const towers = heads.map((head, t) => {
      const gate = new DSelectKGate({ name: gateName(head), experts: a.experts, k: a.k, gamma: a.gamma, perExample: a.perExample, seed: seed * 1000 + 10 * t }).apply(input) as tf.SymbolicTensor;
      const mixed = new GatedMixture({ name: `${head.name}_mixture` }).apply([gate, ...experts]) as tf.SymbolicTensor;
      return denseStack(mixed, a.towerLayers, a.activation, init, (l) => `${head.name}_tower_${l}`, drop);
    });
    return { input, towers };
  },
  parts(serving, heads, a) {
    const sharedVariables = variablesOf(serving, range(a.experts).flatMap((e) => a.expertLayers.map((_, l) => expertName(e, l))));
    if (a.entropy <= 0 && isPowerOfTwo(a.experts)) return { sharedVariables };
    const gates = heads.map((h) => {
      const layer = serving.getLayer(gateName(h));
      if (!(layer instanceof DSelectKGate)) throw new Error(`layer '${gateName(h)}' is not a DSelect-k gate`);
      return layer;
    });
    return { sharedVariables, regularization: ({ x }) => tf.tidy(() => tf.addN(gates.map((g) => g.penalty(x as tf.Tensor2D, a.entropy))) as tf.Scalar) };
  },
  size(a, inputSize, headWidths) {
    const expert = stackSize(a.expertLayers, inputSize);
    const m = Math.ceil(Math.log2(a.experts));
    const gate = a.perExample ? (inputSize + 1) * a.k * (m + 1) : a.k * (m + 1);
    const heads = headsSize(expert.out, a.towerLayers, headWidths);
    return { parameters: a.experts * expert.params + headWidths.length * gate + heads.params, units: a.experts * expert.units + heads.units };
  },
};

function expertName(expert: number, layer: number): string {
  return `shared_expert_${expert}_${layer}`;
}

function gateName(head: HeadSpec): string {
  return `${head.name}_gate`;
}
