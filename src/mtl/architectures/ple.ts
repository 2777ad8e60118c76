import * as tf from '@tensorflow/tfjs';
import { Type } from '@sinclair/typebox';
import { ActivationSchema, DropoutSchema, LayerSizes } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import { GatedMixture } from '../layers/gated-mixture.js';
import type { Architecture, ArchitectureGraph, BuildModelArgs, HeadSpec } from './architecture.js';
import { denseStack, expertsSize, hiddenDropout, range, seededInit, variablesOf } from './layers.js';

export const PleSchema = variantSchema(
  'type',
  'ple',
  {
    experts: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'shared experts per level' }),
    taskExperts: Type.Integer({ minimum: 1, maximum: 16, default: 1, description: 'task-specific experts per task and level' }),
    levels: Type.Integer({ minimum: 1, maximum: 4, default: 1, description: 'extraction levels (1 is CGC)' }),
    expertLayers: LayerSizes('units of each Dense layer of an expert', [64]),
    towerLayers: LayerSizes('units of each Dense layer of a task tower', [32]),
    activation: ActivationSchema,
    dropout: DropoutSchema,
  },
  'Progressive Layered Extraction: shared and task-specific experts, level by level.',
);
export type Ple = VariantOf<typeof PleSchema>;

/**
 * Progressive Layered Extraction (Tang et al., RecSys 2020); one level is CGC. At level k:
 * - `experts` shared experts `shared_expert_<k>_<e>_<l>` on the shared representation (level 0: the input);
 * - `taskExperts` experts per task `<task>_expert_<k>_<e>_<l>` on that task's representation;
 * - per task a softmax gate `<task>_gate_<k>` (on the task's representation) over its own experts
 *   then the shared experts, mixed by `<task>_mixture_<k>` into the task's next representation;
 * - below the last level, a shared gate `shared_gate_<k>` (on the shared representation) over every
 *   expert (each task's in task order, then the shared ones), mixed by `shared_mixture_<k>` into the
 *   next level's shared representation.
 * Then each task's tower (`<task>_tower_<l>`) and `<task>_logits`.
 */
export const ple: Architecture<Ple> = {
  schema: PleSchema,
  check(a) {
    return a.expertLayers.length === 0 ? [{ pointer: '/architecture/expertLayers', detail: 'ple experts need at least one layer' }] : [];
  },
  build: buildPle,
  parts(serving, heads, a) {
    return { sharedVariables: variablesOf(serving, pleSharedLayerNames(heads, a)) };
  },
  size(a, inputSize, headWidths) {
    return expertsSize((a.experts + a.taskExperts * headWidths.length) * a.levels, a.expertLayers, a.towerLayers, inputSize, headWidths);
  },
};

function buildPle({ architecture: a, heads, inputSize, seed }: BuildModelArgs<Ple>): ArchitectureGraph {
  const init = seededInit(seed);
  const drop = hiddenDropout(a.dropout, seed);
  const input = tf.input({ shape: [inputSize], name: 'features' });
  let shared: tf.SymbolicTensor = input;
  let perTask: tf.SymbolicTensor[] = heads.map(() => input);
  for (let k = 0; k < a.levels; k++) {
    const sharedExperts = range(a.experts).map((e) => denseStack(shared, a.expertLayers, a.activation, init, (l) => sharedExpertName(k, e, l), drop));
    const taskExperts = heads.map((head, t) =>
      range(a.taskExperts).map((e) => denseStack(perTask[t], a.expertLayers, a.activation, init, (l) => taskExpertName(head, k, e, l), drop)),
    );
    const next = heads.map((head, t) => {
      const pool = [...taskExperts[t], ...sharedExperts];
      const gate = tf.layers.dense({ units: pool.length, activation: 'softmax', kernelInitializer: init(), name: taskGateName(head, k) }).apply(perTask[t]) as tf.SymbolicTensor;
      return new GatedMixture({ name: `${head.name}_mixture_${k}` }).apply([gate, ...pool]) as tf.SymbolicTensor;
    });
    if (k < a.levels - 1) {
      const pool = [...taskExperts.flat(), ...sharedExperts];
      const gate = tf.layers.dense({ units: pool.length, activation: 'softmax', kernelInitializer: init(), name: sharedGateName(k) }).apply(shared) as tf.SymbolicTensor;
      shared = new GatedMixture({ name: `shared_mixture_${k}` }).apply([gate, ...pool]) as tf.SymbolicTensor;
    }
    perTask = next;
  }
  const towers = heads.map((head, t) => denseStack(perTask[t], a.towerLayers, a.activation, init, (l) => `${head.name}_tower_${l}`, drop));
  return { input, towers };
}

/**
 * The layers whose weights more than one task's loss reaches, level by level (L levels, k from 0):
 * - shared experts `shared_expert_<k>_*`, every level (every task's gate reads them);
 * - for k < L−1, every task's own experts `<task>_expert_<k>_*` and the shared gate `shared_gate_<k>`:
 *   the shared gate mixes all level-k experts into the input of the level-(k+1) shared experts;
 * - for k < L−2, every task's gate `<task>_gate_<k>`: it feeds that task's level-(k+1) experts,
 *   which (as above) reach every task through the level-(k+1) shared gate.
 * The rest (the last level's task experts, the last two levels' task gates, towers, logits) reaches one task.
 */
function pleSharedLayerNames(heads: HeadSpec[], a: Ple): string[] {
  return range(a.levels).flatMap((k) => {
    const names = range(a.experts).flatMap((e) => a.expertLayers.map((_, l) => sharedExpertName(k, e, l)));
    if (k < a.levels - 1) {
      names.push(...heads.flatMap((h) => range(a.taskExperts).flatMap((e) => a.expertLayers.map((_, l) => taskExpertName(h, k, e, l)))));
      names.push(sharedGateName(k));
    }
    if (k < a.levels - 2) names.push(...heads.map((h) => taskGateName(h, k)));
    return names;
  });
}

function sharedExpertName(level: number, expert: number, layer: number): string {
  return `shared_expert_${level}_${expert}_${layer}`;
}

function taskExpertName(head: HeadSpec, level: number, expert: number, layer: number): string {
  return `${head.name}_expert_${level}_${expert}_${layer}`;
}

function taskGateName(head: HeadSpec, level: number): string {
  return `${head.name}_gate_${level}`;
}

function sharedGateName(level: number): string {
  return `shared_gate_${level}`;
}
