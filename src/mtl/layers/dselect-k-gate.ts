import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface DSelectKGateArgs extends LayerArgs {
  /** Number of experts E the gate weighs (2 or more). */
  experts: number;
  /** Number of single-expert selectors k: at most k experts get a non-zero weight once the gate has converged. */
  k: number;
  /** Width γ of the smooth-step's cubic region: |z| ≥ γ/2 is exactly 0 or 1. Default 1. */
  gamma?: number;
  /** true: the selectors read each row's input (per-example gating, like an MMoE gate); false: one learned choice per task (static). Default true. */
  perExample?: boolean;
  /** Seed of the initialisers (build time only). */
  seed?: number;
}

/** Added inside log(q + ε) of the entropy, as in the authors' code. */
const ENTROPY_EPSILON = 1e-6;

/**
 * The DSelect-k gate (Hazimeh et al., NeurIPS 2021): E non-negative expert weights that sum to 1,
 * with at most k of them non-zero once trained, chosen by a differentiable "binary encoding".
 * Input: the features [batch, d]; output: the expert weights [batch, E], for a GatedMixture.
 *
 * Each of the k single-expert selectors i holds m = ⌈log₂ E⌉ logits z_i; the smooth-step
 * S(t) = 0 for t ≤ −γ/2, 1 for t ≥ γ/2, −2t³/γ³ + 3t/(2γ) + ½ between, turns them into soft bits,
 * and the selector's weight on expert e (binary code c_e) is q_ie = Π_b (c_eb ? S(z_ib) : 1 − S(z_ib)):
 * a distribution over the 2^m codes that is one-hot once every |z_ib| ≥ γ/2. The gate is
 * Σ_i softmax(w)_i · q_i over the selectors. Per example, z and w are linear in the input
 * (weights `z_kernel`, `z_bias`, `w_kernel`, `w_bias`); static, they are learned directly
 * (`z_logits`, `w_logits`). Initial z uniform in ±γ/100 (every bit near ½), w uniform in ±0.05.
 *
 * When E is not a power of two the codes ≥ E reach no expert and their mass is lost (the weights
 * sum to less than 1); `penalty` adds Σ_i 1 / Σ_e q_ie, as in the paper, to push each selector onto
 * the reachable experts.
 */
export class DSelectKGate extends tf.layers.Layer {
  static className = 'DSelectKGate';
  readonly experts: number;
  readonly k: number;
  readonly gamma: number;
  readonly perExample: boolean;
  readonly seed: number | undefined;
  /** ⌈log₂ E⌉: the soft bits of one selector. */
  readonly bits: number;
  /** Per example, z = x·zKernel + zOffset and w = x·wKernel + wOffset; static, the offsets are z and w themselves. */
  private zKernel: tf.LayerVariable | null = null;
  private zOffset: tf.LayerVariable | null = null;
  private wKernel: tf.LayerVariable | null = null;
  private wOffset: tf.LayerVariable | null = null;

  constructor(args: DSelectKGateArgs) {
    super(args);
    if (!(Number.isInteger(args.experts) && args.experts >= 2)) throw new Error(`DSelect-k gate '${this.name}' needs 2 or more experts, got ${args.experts}`);
    if (!(Number.isInteger(args.k) && args.k >= 1)) throw new Error(`DSelect-k gate '${this.name}' needs k ≥ 1, got ${args.k}`);
    this.experts = args.experts;
    this.k = args.k;
    this.gamma = args.gamma ?? 1;
    this.perExample = args.perExample ?? true;
    this.seed = args.seed;
    this.bits = Math.ceil(Math.log2(this.experts));
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[1];
    if (shape.length !== 2 || d == null) throw new Error(`DSelect-k gate '${this.name}' reads [batch, features]; got ${JSON.stringify(shape)}`);
    const seed = (i: number) => (this.seed === undefined ? undefined : this.seed + i);
    const z = (i: number) => tf.initializers.randomUniform({ minval: -this.gamma / 100, maxval: this.gamma / 100, seed: seed(i) });
    const w = (i: number) => tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seed(i) });
    const [k, m] = [this.k, this.bits];
    if (this.perExample) {
      this.zKernel = this.addWeight('z_kernel', [d, k * m], 'float32', z(0));
      this.zOffset = this.addWeight('z_bias', [k * m], 'float32', z(1));
      this.wKernel = this.addWeight('w_kernel', [d, k], 'float32', w(2));
      this.wOffset = this.addWeight('w_bias', [k], 'float32', w(3));
    } else {
      this.zOffset = this.addWeight('z_logits', [k, m], 'float32', z(0));
      this.wOffset = this.addWeight('w_logits', [k], 'float32', w(1));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], this.experts];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
    return tf.tidy(() => {
      const { selectors, weights } = this.selection(x);
      // Σ_i softmax(w)_i · q_i: [b, k, 1] · [b, k, E] summed over k (static: [k, 1] · [k, E], then one row per input row).
      const gate = tf.sum(tf.mul(tf.expandDims(weights, -1), selectors), -2);
      return this.perExample ? gate : tf.mul(tf.ones([x.shape[0], 1]), tf.expandDims(gate, 0));
    });
  }

  /**
   * The selectors' weights on the experts q ([b, k, E] per example, [k, E] static) and the
   * selectors' own weights softmax(w) ([b, k] or [k]) for a batch of inputs.
   */
  selection(x: tf.Tensor2D): { selectors: tf.Tensor; weights: tf.Tensor } {
    return tf.tidy(() => {
      const [k, m] = [this.k, this.bits];
      const zLogits = this.perExample ? tf.reshape(tf.add(tf.matMul(x, this.zKernel!.read()), this.zOffset!.read()), [-1, k, m]) : this.zOffset!.read();
      const wLogits = this.perExample ? tf.add(tf.matMul(x, this.wKernel!.read()), this.wOffset!.read()) : this.wOffset!.read();
      return { selectors: selectorOutputs(smoothStep(zLogits, this.gamma), this.experts), weights: tf.softmax(wLogits, -1) };
    });
  }

  /**
   * The gate's loss terms for a batch (mean over its rows when per example): `entropy` · Σ_i H(q_i)
   * (the optional entropy regulariser, which speeds up the selectors' convergence to one expert
   * each), plus, when E is not a power of two, Σ_i 1 / Σ_e q_ie (keeps the selectors on reachable experts).
   */
  penalty(x: tf.Tensor2D, entropy: number): tf.Scalar {
    return tf.tidy(() => {
      const { selectors } = this.selection(x);
      const terms: tf.Scalar[] = [];
      if (entropy > 0) terms.push(tf.mul(meanOverRows(tf.neg(tf.sum(tf.mul(selectors, tf.log(tf.add(selectors, ENTROPY_EPSILON))), [-2, -1])), this.perExample), entropy));
      if (!isPowerOfTwo(this.experts)) terms.push(meanOverRows(tf.sum(tf.reciprocal(tf.sum(selectors, -1)), -1), this.perExample));
      return terms.length > 0 ? (tf.addN(terms) as tf.Scalar) : tf.scalar(0);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), experts: this.experts, k: this.k, gamma: this.gamma, perExample: this.perExample, ...(this.seed === undefined ? {} : { seed: this.seed }) };
  }
}
tf.serialization.registerClass(DSelectKGate);

/**
 * S(t): 0 for t ≤ −γ/2, 1 for t ≥ γ/2, −2t³/γ³ + 3t/(2γ) + ½ between; written as the smoothstep
 * u²(3 − 2u) of u = t/γ + ½ clipped to [0, 1] (the same cubic), which is exactly 0 and 1 outside,
 * with gradient 0 there.
 */
export function smoothStep(t: tf.Tensor, gamma: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.clipByValue(tf.add(tf.mul(t, 1 / gamma), 0.5), 0, 1);
    return tf.mul(tf.square(u), tf.sub(3, tf.mul(u, 2)));
  });
}

/**
 * q_ie = Π_b (c_eb ? s_ib : 1 − s_ib) for the soft bits s [..., k, m] and the first E codes
 * (bit b of e, least significant first): [..., k, E]. Each factor is (1 − c) + s·(2c − 1), exact
 * for c ∈ {0, 1}, so saturated bits give exact zeros and ones.
 */
export function selectorOutputs(bits: tf.Tensor, experts: number): tf.Tensor {
  return tf.tidy(() => {
    const m = bits.shape[bits.rank - 1]!;
    const codes = Array.from({ length: experts }, (_, e) => Array.from({ length: m }, (_, b) => (e >> b) & 1));
    const offset = tf.tensor2d(codes.map((c) => c.map((v) => 1 - v))); // [E, m]
    const sign = tf.tensor2d(codes.map((c) => c.map((v) => 2 * v - 1))); // [E, m]
    const factors = tf.add(offset, tf.mul(tf.expandDims(bits, -2), sign)); // [..., k, 1, m] → [..., k, E, m]
    return tf.prod(factors, factors.rank - 1); // (a positive axis: Prod's gradient does not take −1)
  });
}

function meanOverRows(perRow: tf.Tensor, perExample: boolean): tf.Scalar {
  return (perExample ? tf.mean(perRow) : perRow) as tf.Scalar;
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
