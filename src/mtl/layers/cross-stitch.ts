import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface CrossStitchArgs extends LayerArgs {
  /**
   * Initial α_ii, the weight of a task's own tower; the rest, 1 − selfWeight, is split evenly over
   * the other towers (α_ij = (1 − selfWeight)/(T − 1)). Default 0.9. With one tower α = [[1]].
   */
  selfWeight?: number;
}

/**
 * Cross-stitch unit (Misra et al., CVPR 2016): takes the T task towers' activations h_1..h_T, each
 * [batch, units], and returns T mixed activations out_i = Σ_j α_ij h_j with a learned T×T matrix α
 * (weight `alpha`, row i = what tower i reads from every tower). One layer, T outputs.
 */
export class CrossStitch extends tf.layers.Layer {
  static className = 'CrossStitch';
  readonly selfWeight: number;
  private alpha: tf.LayerVariable | null = null;

  constructor(args: CrossStitchArgs = {}) {
    super(args);
    this.selfWeight = args.selfWeight ?? 0.9;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shapes = towerShapes(inputShape, this.name);
    const towers = shapes.length;
    const units = shapes[0].at(-1);
    for (const s of shapes) {
      if (s.length !== 2 || s[1] !== units) throw new Error(`cross-stitch '${this.name}' needs towers of equal width [batch, units]; got ${JSON.stringify(shapes)}`);
    }
    const self = towers === 1 ? 1 : this.selfWeight;
    const other = towers === 1 ? 0 : (1 - this.selfWeight) / (towers - 1);
    this.alpha = this.addWeight('alpha', [towers, towers], 'float32', crossStitchInitializer(self, other));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    return towerShapes(inputShape, this.name).map((s) => [...s]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const towers = Array.isArray(inputs) ? inputs : [inputs];
      return crossStitchMix(this.alpha!.read(), towers);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), selfWeight: this.selfWeight };
  }
}
tf.serialization.registerClass(CrossStitch);

/** out_i = Σ_j α_ij h_j for towers h_1..h_T of shape [batch, units]: one matMul over the stacked towers. */
export function crossStitchMix(alpha: tf.Tensor, towers: tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const [batch, units] = towers[0].shape;
    const stacked = tf.reshape(tf.stack(towers), [towers.length, batch * units]); // [T, b·u]
    const mixed = tf.matMul(alpha, stacked); // [T, b·u]
    return tf.unstack(tf.reshape(mixed, [towers.length, batch, units]));
  });
}

function towerShapes(inputShape: tf.Shape | tf.Shape[], name: string): tf.Shape[] {
  if (!Array.isArray(inputShape[0])) throw new Error(`cross-stitch '${name}' takes a list of tower activations`);
  return inputShape as tf.Shape[];
}

/** α = self on the diagonal, other off it. Only used at build time (a loaded model's α comes from its weights). */
function crossStitchInitializer(self: number, other: number): ReturnType<typeof tf.initializers.zeros> {
  const init = {
    apply: (shape: number[]) =>
      tf.tidy(() => {
        const eye = tf.eye(shape[0]);
        return tf.add(tf.mul(eye, self), tf.mul(tf.sub(1, eye), other));
      }),
    getConfig: () => ({ self, other }),
    getClassName: () => 'CrossStitchInitializer',
  };
  return init as unknown as ReturnType<typeof tf.initializers.zeros>;
}
