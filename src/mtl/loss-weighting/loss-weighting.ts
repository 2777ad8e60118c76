import type * as tf from '@tensorflow/tfjs';
import type { TObject } from '@sinclair/typebox';
import type { TaskType } from '../spec-fields.js';
import { weightedSum } from '../losses.js';

/**
 * Each task's gradient of its own (unweighted) mean loss on the model's shared variables,
 * flattened, from one backward pass per task; computed once per step and given to every part of
 * the step that needs it (the strategy, task affinity).
 */
export interface TaskGradients {
  flat: tf.Tensor1D[];
  losses: number[];
}

/**
 * How the task losses become one training signal: one file behind this interface plus one line in
 * the registry (loss-weighting/index.ts). Every step the trainer asks `combine` for the scalar to
 * minimise; a strategy that declares `needsTaskGradients` also gets each task's gradient on the
 * shared variables first (`observe`) and may replace their combined gradient (`combineGradients`).
 */
export interface LossWeighting {
  /** Trainable variables of the strategy itself, optimised with the model (uncertainty's log-variances). */
  readonly variables: tf.Variable[];
  /** Whether every step needs each task's gradient on the shared variables (GradNorm, PCGrad). */
  readonly needsTaskGradients: boolean;
  /** Called before each epoch with every finished epoch's mean training loss per task. */
  startEpoch(taskLossHistory: number[][]): void;
  /** Called once a step, before `combine`, with the task gradients (only when `needsTaskGradients`). */
  observe?(gradients: TaskGradients): void;
  /** The scalar to minimise from the per-task mean losses (inside the gradient tape). */
  combine(losses: tf.Scalar[]): tf.Scalar;
  /**
   * The shared variables' gradient from the task gradients, flattened, replacing Σ w_t g_t (the
   * gradient of `combine` there); `rng` is the step's seeded random stream. Absent: `combine`'s gradient is kept.
   */
  combineGradients?(gradients: TaskGradients, rng: () => number): tf.Tensor1D;
  /** The weight each task's loss has now, as recorded in the history. */
  currentWeights(): number[];
  /** Everything needed to continue after a restart (checkpoints). */
  getState(): LossWeightingState;
  setState(state: LossWeightingState): void;
  dispose(): void;
}

export interface LossWeightingState {
  current?: number[];
  logVariances?: number[];
  initialLosses?: number[] | null;
  moments?: { m: number[]; v: number[]; step: number };
}

/** What a strategy is built from besides its own spec parameters. */
export interface LossWeightingContext {
  /** The tasks' static weights (spec `weight`), which every strategy starts from. */
  weights: number[];
  types: TaskType[];
  /** The training's learning rate (GradNorm learns its weights at this rate). */
  learningRate: number;
}

/** A registry entry: the spec's `lossWeighting` object for this strategy (variantSchema), and how to build the strategy from it. */
export interface LossWeightingMethod<C> {
  readonly schema: TObject;
  create(config: C, context: LossWeightingContext): LossWeighting;
  /** Whether its strategies take each task's gradient every step (`needsTaskGradients`): the memory estimate counts them. */
  readonly takesTaskGradients?: boolean;
}

/** Σ w_t · L_t with weights that change only when a strategy sets them; the base of the strategies that only set weights. */
export class FixedWeights implements LossWeighting {
  readonly variables: tf.Variable[] = [];
  readonly needsTaskGradients: boolean = false;
  protected current: number[];

  constructor(protected readonly base: number[]) {
    this.current = [...base];
  }

  startEpoch(_history: number[][]): void {}

  combine(losses: tf.Scalar[]): tf.Scalar {
    return weightedSum(losses, this.current);
  }

  currentWeights(): number[] {
    return [...this.current];
  }

  getState(): LossWeightingState {
    return { current: [...this.current] };
  }

  setState(state: LossWeightingState): void {
    if (state.current) this.current = [...state.current];
  }

  dispose(): void {}
}
