import * as tf from '@tensorflow/tfjs';

/**
 * A model that computes only some heads of `serving`: built on the same layers and weights (nothing
 * is copied, so it has nothing of its own to dispose: it must not outlive `serving`), with the
 * outputs of `heads` (indexes into `serving.outputs`, i.e. task indexes) in that order. Running it
 * executes only the part of the graph those outputs depend on: the shared trunk (or the experts)
 * and the selected heads' layers (their towers, gates and output layers); the other heads are not
 * computed.
 */
export function selectHeads(serving: tf.LayersModel, heads: readonly number[]): tf.LayersModel {
  if (heads.length === 0) throw new Error('select at least one head');
  for (const h of heads) if (!(Number.isInteger(h) && h >= 0 && h < serving.outputs.length)) throw new Error(`no head ${h} in a model with ${serving.outputs.length}`);
  return tf.model({ inputs: serving.inputs, outputs: heads.map((h) => serving.outputs[h]) });
}
