import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface AitAttentionArgs extends LayerArgs {
  /** Seed of the Glorot-uniform initialisers of the three projections (build time only). */
  seed?: number;
}

/**
 * AITM's adaptive information transfer unit (Xi et al., KDD 2021): inputs [q, p], each
 * [batch, K]: q the task's own tower, p what the parent task passes on. With learned K×K
 * projections W_q, W_k, W_v (weights `query`, `key`, `value`), each u ∈ {q, p} scores
 * s_u = ⟨u·W_q, u·W_k⟩ / √K; the weights w = softmax(s_q, s_p) per row; the output is
 * w_q · q·W_v + w_p · p·W_v, [batch, K]: the row decides how much of the parent's information to take.
 */
export class AitAttention extends tf.layers.Layer {
  static className = 'AitAttention';
  readonly seed: number | undefined;
  private projections: tf.LayerVariable[] = [];

  constructor(args: AitAttentionArgs = {}) {
    super(args);
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [q, p] = pairShapes(inputShape, this.name);
    const units = q[1];
    if (q.length !== 2 || p.length !== 2 || units == null || p[1] !== units)
      throw new Error(`AIT attention '${this.name}' needs [q, p] of equal width [batch, K]; got ${JSON.stringify([q, p])}`);
    this.projections = ['query', 'key', 'value'].map((name, i) =>
      this.addWeight(name, [units, units], 'float32', tf.initializers.glorotUniform({ seed: this.seed === undefined ? undefined : this.seed + i })),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...pairShapes(inputShape, this.name)[0]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [q, p] = inputs as tf.Tensor[];
    const [wq, wk, wv] = this.projections.map((v) => v.read());
    return aitAttention(q as tf.Tensor2D, p as tf.Tensor2D, wq as tf.Tensor2D, wk as tf.Tensor2D, wv as tf.Tensor2D);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.seed === undefined ? {} : { seed: this.seed }) };
  }
}
tf.serialization.registerClass(AitAttention);

/** w_q · q·W_v + w_p · p·W_v with (w_q, w_p) = softmax(⟨q·W_q, q·W_k⟩/√K, ⟨p·W_q, p·W_k⟩/√K) per row. */
export function aitAttention(q: tf.Tensor2D, p: tf.Tensor2D, wq: tf.Tensor2D, wk: tf.Tensor2D, wv: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const scale = Math.sqrt(q.shape[1]);
    const score = (u: tf.Tensor2D) => tf.div(tf.sum(tf.mul(tf.matMul(u, wq), tf.matMul(u, wk)), -1, true), scale); // [b, 1]
    const w = tf.softmax(tf.concat([score(q), score(p)], 1)); // [b, 2]
    const [wQ, wP] = tf.split(w, 2, 1);
    return tf.add(tf.mul(wQ, tf.matMul(q, wv)), tf.mul(wP, tf.matMul(p, wv))) as tf.Tensor2D;
  });
}

function pairShapes(inputShape: tf.Shape | tf.Shape[], name: string): [tf.Shape, tf.Shape] {
  if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) throw new Error(`AIT attention '${name}' takes [q, p]`);
  return inputShape as [tf.Shape, tf.Shape];
}
