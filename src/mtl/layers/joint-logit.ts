import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export type JointLogitArgs = LayerArgs;

/**
 * log p(A and B) is capped just below 0, so that log(1 − p) stays finite: only reached when both
 * logits are above ~69, where the float32 sigmoids are 1 anyway.
 */
const MAX_LOG_JOINT = -1e-30;

/**
 * ESMM's joint event as a logit (Ma et al., SIGIR 2018): inputs [parent, own], each [batch, 1]
 * logits, with σ(parent) = p(A) (the parent task's event) and σ(own) = p(B | A); output
 * logit(p(A)·p(B | A)) = logit(p(A and B)), [batch, 1]. No weights of its own.
 *
 * Worked in log space so small probabilities (a conversion after a click: 1e-3 and below) keep
 * their precision: l = log σ(parent) + log σ(own) = −softplus(−parent) − softplus(−own), then
 * logit = l − log(1 − e^l) = l − log(−expm1(l)). The binary cross-entropy of that logit is exactly
 * −y·log p(A and B) − (1 − y)·log(1 − p(A and B)), the CTCVR loss, so the usual masked binary loss
 * (and its fused kernel) trains it unchanged.
 */
export class JointLogit extends tf.layers.Layer {
  static className = 'JointLogit';

  constructor(args: JointLogitArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) throw new Error(`joint logit '${this.name}' takes [parent logit, own logit]`);
    return [...shapes[1]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [parent, own] = inputs as tf.Tensor[];
    return jointLogit(parent, own);
  }
}
tf.serialization.registerClass(JointLogit);

/** logit(σ(parent)·σ(own)), elementwise (see JointLogit). */
export function jointLogit(parent: tf.Tensor, own: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const logJoint = tf.minimum(tf.neg(tf.add(tf.softplus(tf.neg(parent)), tf.softplus(tf.neg(own)))), MAX_LOG_JOINT);
    return tf.sub(logJoint, tf.log(tf.neg(tf.expm1(logJoint))));
  });
}
