import * as tf from '@tensorflow/tfjs';
import { architectureOf, type BuildModelArgs, type HeadSpec, type MultiTaskModel, type ResolvedArchitecture } from './architectures/index.js';
import { buildHeads, calibrationPenalty } from './cascade.js';

export type { HeadSpec, MultiTaskModel } from './architectures/index.js';

/** Seeds of the heads' own layers start here above the build's seed (the architecture counts up from the seed itself). */
const HEAD_SEEDS = 100_000;

/**
 * Builds the model of `args.architecture` (see the registry, architectures/index.ts), then each
 * head on its tower: its logits layer `<task>_logits` and output layer `<task>`, and the layers of
 * cascaded tasks (cascade.ts).
 */
export function buildModel(args: BuildModelArgs<ResolvedArchitecture>): MultiTaskModel {
  const graph = architectureOf(args.architecture).build(args);
  let seed = args.seed + HEAD_SEEDS;
  const { outputs } = buildHeads(graph.towers, args.heads, () => seed++, args.architecture.activation);
  const serving = tf.model({ inputs: graph.input, outputs, name: 'mtl' });
  return trainingViewOf(serving, args.heads, args.architecture);
}

/**
 * The full training view of a serving model (built here or loaded from the store): the logits
 * model over the same layers (each head's training output is the input of its output layer
 * `<task>`), the shared variables and the regularisation of its architecture and cascades.
 */
export function trainingViewOf(serving: tf.LayersModel, heads: HeadSpec[], architecture: ResolvedArchitecture): MultiTaskModel {
  const logits = heads.map((h) => serving.getLayer(h.name).input as tf.SymbolicTensor);
  const training = tf.model({ inputs: serving.inputs, outputs: logits, name: 'mtl_training' });
  const parts = architectureOf(architecture).parts(serving, heads, architecture);
  const terms = [parts.regularization, calibrationPenalty(heads)].filter((r) => r !== undefined);
  const model: MultiTaskModel = { serving, training, heads, sharedVariables: parts.sharedVariables };
  if (terms.length === 1) model.regularization = terms[0];
  if (terms.length > 1) model.regularization = (step) => tf.tidy(() => tf.addN(terms.map((r) => r(step))) as tf.Scalar);
  return model;
}

/** A model's outputs as a list, whether it has one head or many. */
export function asList(out: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(out) ? out : [out];
}

/** For each head (training output), whether any of `shared` lies on its path from the input: a task on a branch of its own reaches none. */
export function headsReachingShared(model: Pick<MultiTaskModel, 'training'>, shared: tf.Variable[]): boolean[] {
  const ids = new Set(shared.map((v) => v.id));
  return model.training.outputs.map((out) => {
    const seen = new Set<tf.layers.Layer>();
    const stack = [out.sourceLayer as tf.layers.Layer];
    while (stack.length > 0) {
      const layer = stack.pop()!;
      if (seen.has(layer)) continue;
      seen.add(layer);
      if (layer.trainableWeights.some((w) => ids.has((w.read() as tf.Variable).id))) return true;
      for (const node of layer.inboundNodes) stack.push(...(node.inboundLayers as tf.layers.Layer[]));
    }
    return false;
  });
}

/**
 * The heads that are linear models of the inputs: their `<task>_logits` layer reads the input layer
 * itself (a branched task under nodes without layers). Cascaded heads are not: their output is a
 * joint event or goes through a transfer.
 */
export function linearHeads(model: MultiTaskModel): string[] {
  return model.heads
    .filter((h) => !h.cascade)
    .filter((h) => model.serving.getLayer(`${h.name}_logits`).inboundNodes[0]?.inboundLayers[0]?.getClassName() === 'InputLayer')
    .map((h) => h.name);
}
