import * as tf from '@tensorflow/tfjs';
import type { Activation } from './spec-fields.js';
import type { HeadSpec, StepTensors } from './architectures/architecture.js';
import { JointLogit } from './layers/joint-logit.js';
import { ConditionalProbability } from './layers/conditional-probability.js';
import { AitAttention } from './layers/ait-attention.js';

/**
 * Cascaded tasks: a binary task B with `dependsOn: A` (a binary task) whose event only happens after
 * A's (a conversion after a click). B's label means "A and B happened" on every row, so B learns
 * from the rows where A is negative too (ESMM's "entire space"). Per head, in the model graph:
 *
 * - `esmm` (Ma et al., SIGIR 2018): B's head `<B>_logits` gives p(B | A) (the CVR tower); the layer
 *   `<B>_joint_logits` gives logit(p(A)·p(B | A)) from A's training output and B's, and is B's
 *   training output: B's loss is the CTCVR loss on the joint over every row, A's the CTR loss.
 * - `aitm` (Xi et al., KDD 2021): A's representation (the input of its logits layer) goes through
 *   `<B>_transfer` (Dense, the architecture's activation) into an attention unit `<B>_attention`
 *   with B's tower; B's logits read the unit's output and give p(A and B) directly, trained on B's
 *   label over every row, plus the behavioural-expectation calibrator
 *   calibration · mean(max(p(A and B) − p(A), 0)) as a regularisation term.
 *
 * Either way B's serving output `<B>` is p(A and B) (what B's label means) and the serving model adds
 * `<B>_conditional` = p(B | A) after the heads: σ(`<B>_logits`) for esmm, min(p(A and B)/p(A), 1) for
 * aitm. Chains (A → B → C) compose: a parent's "p(A)" is its own training output's probability.
 *
 * Not done: the model's `sharedVariables` stay the architecture's, although B's loss also reaches
 * A's own head (esmm: through p(A); aitm: through the transfer), so task affinity and the gradient
 * strategies see only the architecture's shared part. The custom layers keep the blas fused
 * forward path (all-Dense models only) off: cascaded models train on the stock ops.
 */

/** Hands out initialiser seeds one after another, so a build repeats for the same first seed. */
type Seeds = () => number;

/** Head indices with every parent before its children (task order otherwise); throws on an unknown parent or a cycle. */
export function cascadeOrder(heads: HeadSpec[]): number[] {
  const index = new Map(heads.map((h, t) => [h.name, t]));
  const order: number[] = [];
  const state = new Array<0 | 1 | 2>(heads.length).fill(0); // unvisited, on the path, placed
  const visit = (t: number) => {
    if (state[t] === 2) return;
    if (state[t] === 1) throw new Error(`task '${heads[t].name}' depends on itself through its parents`);
    state[t] = 1;
    const parent = heads[t].cascade?.dependsOn;
    if (parent !== undefined) {
      const p = index.get(parent);
      if (p === undefined) throw new Error(`task '${heads[t].name}' depends on '${parent}', which is not a task`);
      visit(p);
    }
    state[t] = 2;
    order.push(t);
  };
  heads.forEach((_, t) => visit(t));
  return order;
}

/** Builds each head on its tower: `<task>_logits`, and the cascade's layers; returns the training outputs (logits) and the serving outputs. */
export function buildHeads(towers: tf.SymbolicTensor[], heads: HeadSpec[], seeds: Seeds, activation: Activation): { logits: tf.SymbolicTensor[]; outputs: tf.SymbolicTensor[] } {
  const index = new Map(heads.map((h, t) => [h.name, t]));
  const representation: tf.SymbolicTensor[] = [];
  const own: tf.SymbolicTensor[] = [];
  const logits: tf.SymbolicTensor[] = [];
  for (const t of cascadeOrder(heads)) {
    const head = heads[t];
    const parent = head.cascade ? index.get(head.cascade.dependsOn)! : -1;
    representation[t] = head.cascade?.mode === 'aitm' ? transfer(representation[parent], towers[t], head, seeds, activation) : towers[t];
    own[t] = tf.layers.dense({ units: head.width, kernelInitializer: glorot(seeds), name: `${head.name}_logits` }).apply(representation[t]) as tf.SymbolicTensor;
    logits[t] = head.cascade?.mode === 'esmm' ? (new JointLogit({ name: `${head.name}_joint_logits` }).apply([logits[parent], own[t]]) as tf.SymbolicTensor) : own[t];
  }
  const outputs = heads.map((head, t) => tf.layers.activation({ activation: outputActivation(head), name: head.name }).apply(logits[t]) as tf.SymbolicTensor);
  const conditionals = heads.flatMap((head, t) => {
    if (!head.cascade) return [];
    const name = `${head.name}_conditional`;
    if (head.cascade.mode === 'esmm') return [tf.layers.activation({ activation: 'sigmoid', name }).apply(own[t]) as tf.SymbolicTensor];
    return [new ConditionalProbability({ name }).apply([logits[t], logits[index.get(head.cascade.dependsOn)!]]) as tf.SymbolicTensor];
  });
  return { logits, outputs: [...outputs, ...conditionals] };
}

/** AITM: the parent's representation, transferred (Dense + activation), attended together with the task's own tower. */
function transfer(parent: tf.SymbolicTensor, tower: tf.SymbolicTensor, head: HeadSpec, seeds: Seeds, activation: Activation): tf.SymbolicTensor {
  const units = tower.shape[1] as number;
  const passed = tf.layers.dense({ units, activation, kernelInitializer: glorot(seeds), name: `${head.name}_transfer` }).apply(parent) as tf.SymbolicTensor;
  return new AitAttention({ name: `${head.name}_attention`, seed: seeds() }).apply([tower, passed]) as tf.SymbolicTensor;
}

function glorot(seeds: Seeds): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform({ seed: seeds() });
}

/** AITM's calibrator over the batch, Σ over aitm tasks of calibration · mean(max(p(task) − p(parent), 0)); undefined without aitm tasks. */
export function calibrationPenalty(heads: HeadSpec[]): ((step: StepTensors) => tf.Scalar) | undefined {
  const index = new Map(heads.map((h, t) => [h.name, t]));
  const pairs = heads.flatMap((h, t) => (h.cascade?.mode === 'aitm' && h.cascade.calibration > 0 ? [{ t, parent: index.get(h.cascade.dependsOn)!, weight: h.cascade.calibration }] : []));
  if (pairs.length === 0) return undefined;
  return ({ logits }) =>
    tf.tidy(() => tf.addN(pairs.map(({ t, parent, weight }) => tf.mul(tf.mean(tf.relu(tf.sub(tf.sigmoid(logits[t]), tf.sigmoid(logits[parent])))), weight))) as tf.Scalar);
}

function outputActivation(head: HeadSpec): 'softmax' | 'sigmoid' | 'linear' {
  switch (head.type) {
    case 'classification':
      return 'softmax';
    case 'binary':
    case 'multilabel':
      return 'sigmoid';
    case 'regression':
      return 'linear';
  }
}
