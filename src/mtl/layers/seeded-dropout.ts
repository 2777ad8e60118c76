import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface SeededDropoutArgs extends LayerArgs {
  /** Fraction of the units zeroed in training, in [0, 1). */
  rate: number;
  /** The build's seed; with the layer's name and the training step it fixes every mask. */
  seed: number;
}

/**
 * Inverted dropout whose masks repeat for the same seed: in training each unit is kept with
 * probability 1 − rate and scaled by 1/(1 − rate); in prediction the layer passes its input through.
 *
 * tfjs's own Dropout either draws from Math.random (not reproducible) or, given a seed, draws the
 * same mask at every call. Here the mask of a call is drawn from the seed, the layer's name and the
 * step the trainer sets (`setStep(epoch, step)`): every forward pass of one training step (the
 * per-task gradient passes of task affinity and the gradient strategies, then the update's) sees
 * the same masks, each step new ones, and a run resumed from a checkpoint draws what the
 * uninterrupted run drew. Without a step set, each call draws anew from a counter.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  private step: string | null = null;
  private calls = 0;

  constructor(args: SeededDropoutArgs) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout '${this.name}': rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  /** Fixes the masks of the coming calls to the training step `step` of `epoch`. */
  setStep(epoch: number, step: number): void {
    this.step = `${epoch}:${step}`;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training !== true || this.rate === 0) return x;
    return tf.tidy(() => {
      const key = `${this.seed}:${this.name}:${this.step ?? `call-${this.calls++}`}`;
      const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', key), this.rate);
      return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);

/** Sets the step of each of these seeded dropout layers (see SeededDropout). */
export function setDropoutStep(layers: SeededDropout[], epoch: number, step: number): void {
  for (const l of layers) l.setStep(epoch, step);
}

/** The model's seeded dropout layers. */
export function dropoutLayersOf(model: tf.LayersModel): SeededDropout[] {
  return model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
}
