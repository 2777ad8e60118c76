import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export type GatedMixtureArgs = LayerArgs;

/**
 * A gate's mixture of experts (MMoE, PLE): inputs [gate, expert_1, …, expert_E] with gate
 * [batch, E] (softmax weights) and each expert [batch, units]; output Σ_e gate_e · expert_e,
 * [batch, units]. No weights of its own: the gate is the Dense layer feeding it.
 */
export class GatedMixture extends tf.layers.Layer {
  static className = 'GatedMixture';

  constructor(args: GatedMixtureArgs = {}) {
    super(args);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [gate, ...experts] = mixtureShapes(inputShape, this.name);
    if (gate[1] != null && gate[1] !== experts.length)
      throw new Error(`gated mixture '${this.name}': gate has ${gate[1]} weights for ${experts.length} experts`);
    const units = experts[0].at(-1);
    if (experts.some((s) => s.length !== 2 || s[1] !== units))
      throw new Error(`gated mixture '${this.name}' needs experts of equal width [batch, units]; got ${JSON.stringify(experts)}`);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...mixtureShapes(inputShape, this.name)[1]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [gate, ...experts] = Array.isArray(inputs) ? inputs : [inputs];
    return gatedMixture(gate, experts);
  }
}
tf.serialization.registerClass(GatedMixture);

/** Σ_e gate[:, e] · expert_e, for gate [batch, E] and E experts [batch, units]. */
export function gatedMixture(gate: tf.Tensor, experts: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => tf.sum(tf.mul(tf.expandDims(gate, 2), tf.stack(experts, 1)), 1)); // [b,E,1]·[b,E,u] → Σ_E → [b,u]
}

function mixtureShapes(inputShape: tf.Shape | tf.Shape[], name: string): tf.Shape[] {
  if (!Array.isArray(inputShape[0]) || inputShape.length < 2) throw new Error(`gated mixture '${name}' takes [gate, expert_1, …, expert_E]`);
  return inputShape as tf.Shape[];
}
