import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export type ConditionalProbabilityArgs = LayerArgs;

/**
 * p(B | A) from two joint probabilities given as logits: inputs [task, parent], each [batch, 1],
 * with σ(task) = p(A and B) and σ(parent) = p(A); output min(σ(task) / σ(parent), 1), [batch, 1].
 * In log space, exp(min(softplus(−parent) − softplus(−task), 0)), so tiny probabilities divide
 * cleanly. AITM's serving output for "given the parent happened"; no weights of its own.
 */
export class ConditionalProbability extends tf.layers.Layer {
  static className = 'ConditionalProbability';

  constructor(args: ConditionalProbabilityArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) throw new Error(`conditional probability '${this.name}' takes [task logit, parent logit]`);
    return [...shapes[0]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [task, parent] = inputs as tf.Tensor[];
    return tf.tidy(() => tf.exp(tf.minimum(tf.sub(tf.softplus(tf.neg(parent)), tf.softplus(tf.neg(task))), 0)));
  }
}
tf.serialization.registerClass(ConditionalProbability);
