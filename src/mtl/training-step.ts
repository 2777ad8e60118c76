import * as tf from '@tensorflow/tfjs';
import { asList, type MultiTaskModel } from './model-builder.js';
import { fusedMaskedLoss, maskedLossParts, maskedMean } from './losses.js';
import type { LossWeighting, TaskGradients } from './loss-weighting/index.js';
import type { TaskAffinityMeter } from './task-affinity.js';
import type { FusedForward } from './fused-forward.js';
import { GATHER_ROWS_KERNEL, hasKernel } from './blas/index.js';

/** The training split as tensors: inputs, and every task's labels and label mask. */
export interface TrainTensors {
  x: tf.Tensor2D;
  labels: { values: tf.Tensor; mask: tf.Tensor1D }[];
}

export interface Batch {
  x: tf.Tensor;
  labels: { values: tf.Tensor; mask: tf.Tensor }[];
}

/** What every step of one training run uses. */
export interface StepContext {
  model: MultiTaskModel;
  optimizer: tf.Optimizer;
  weighting: LossWeighting;
  /** The model's trainable variables, then the strategy's own. */
  allVariables: tf.Variable[];
  shared: tf.Variable[];
  /** The epoch's seeded random stream (shuffling, then the strategy's draws). */
  rng: () => number;
  /** The model's logits through fused Dense kernels, when the backend has them and the model is all Dense. */
  forward: FusedForward | null;
  /** Each task's masked loss as one kernel (fusedMaskedLoss). */
  fusedLoss: boolean;
  /** Per head: does its loss reach any shared variable (a branched task on its own path does not)? Default: every head does. */
  reachesShared?: boolean[];
}

/** A step's rows of the inputs and of every task's labels and mask: one kernel where the backend has it (blas), else a gather each. */
export function gatherBatch(data: TrainTensors, ix: tf.Tensor1D): Batch {
  if (hasKernel(GATHER_ROWS_KERNEL)) {
    const inputs: tf.NamedTensorMap = { indices: ix, t0: data.x };
    data.labels.forEach((l, t) => {
      inputs[`t${2 * t + 1}`] = l.values;
      inputs[`t${2 * t + 2}`] = l.mask;
    });
    const [x, ...rest] = tf.engine().runKernel(GATHER_ROWS_KERNEL, inputs, {}) as tf.Tensor[];
    return { x, labels: data.labels.map((_, t) => ({ values: rest[2 * t], mask: rest[2 * t + 1] })) };
  }
  return { x: tf.gather(data.x, ix), labels: data.labels.map((l) => ({ values: tf.gather(l.values, ix), mask: tf.gather(l.mask, ix) })) };
}

/** Each task's masked mean loss and the parts behind it, from one forward pass (whose logits come along for the regularisation). */
function taskLosses(ctx: StepContext, batch: Batch) {
  const { model } = ctx;
  const logits = ctx.forward ? ctx.forward(batch.x) : asList(model.training.apply(batch.x, { training: true }) as tf.Tensor | tf.Tensor[]);
  if (ctx.fusedLoss) {
    const parts = model.heads.map((h, t) => fusedMaskedLoss(h.type, logits[t], batch.labels[t].values, batch.labels[t].mask, h.width));
    return { logits, parts, means: parts.map((p) => p.mean) };
  }
  const parts = model.heads.map((h, t) => maskedLossParts(h.type, logits[t], batch.labels[t].values, batch.labels[t].mask, h.width));
  return { logits, parts, means: parts.map((p) => maskedMean(p.sum, p.count)) };
}

/**
 * Each task's (unweighted) loss gradient on the shared variables, flattened: one backward pass per
 * task. With `rest`, also each task's gradients on the model's other variables (its head), and the
 * first pass's loss parts [sums per task, counts per task] kept for the step's statistics.
 */
function taskGradients(ctx: StepContext, batch: Batch, rest = false): TaskGradients & { variables: tf.NamedTensorMap[]; parts: tf.Tensor1D | null } {
  const losses: number[] = [];
  const variables: tf.NamedTensorMap[] = [];
  let parts: tf.Tensor1D | null = null;
  const flat = ctx.model.heads.map((_, t) => {
    if (!rest && ctx.reachesShared?.[t] === false) {
      // No shared weight on its path: a zero gradient (the affinity meter skips it), the loss without a backward pass.
      losses.push(tf.tidy(() => taskLosses(ctx, batch).means[t].dataSync()[0]));
      return tf.zeros([ctx.shared.reduce((n, v) => n + v.size, 0)]) as tf.Tensor1D;
    }
    const { value, grads } = tf.variableGrads(() => {
      const step = taskLosses(ctx, batch);
      if (rest && t === 0) parts = tf.keep(tf.stack([...step.parts.map((p) => p.sum), ...step.parts.map((p) => p.count)]) as tf.Tensor1D);
      return step.means[t];
    }, rest ? ctx.allVariables : ctx.shared);
    losses.push(value.dataSync()[0]);
    variables.push(grads);
    return tf.concat(ctx.shared.map((v) => (grads[v.name] ?? tf.zerosLike(v)).reshape([-1]))) as tf.Tensor1D;
  });
  return { flat, losses, variables, parts };
}

/**
 * One optimisation step (inside the caller's tidy). Returns [loss sums per task, label counts per
 * task, weighted loss] so the epoch's numbers are read from the device once per epoch, not once per step.
 */
export function trainStep(ctx: StepContext, batch: Batch, affinity: TaskAffinityMeter | null): tf.Tensor1D {
  const { model, weighting } = ctx;
  if (weighting.needsTaskGradients && weighting.variables.length === 0 && ctx.shared.length > 0) return taskGradientStep(ctx, batch, affinity);
  // Nothing shared (soft sharing without cross-stitch units): no task gradients to balance, Σ w_t L_t.
  const perTask = (affinity || weighting.needsTaskGradients) && ctx.shared.length > 0 ? taskGradients(ctx, batch) : null;
  if (perTask && affinity) affinity.add(perTask.flat);
  if (perTask && weighting.needsTaskGradients) weighting.observe?.(perTask);
  let stats: tf.Tensor1D | null = null;
  const { grads } = tf.variableGrads(() => {
    const { logits, parts, means } = taskLosses(ctx, batch);
    let total = weighting.combine(means, ctx.rng);
    stats = tf.keep(tf.stack([...parts.map((p) => p.sum), ...parts.map((p) => p.count), total]) as tf.Tensor1D);
    if (model.regularization) total = tf.add(total, model.regularization({ x: batch.x, logits }));
    return total;
  }, ctx.allVariables);
  if (perTask && weighting.combineGradients) replaceSharedGradients(ctx, grads, perTask, weighting.combineGradients(perTask, ctx.rng));
  ctx.optimizer.applyGradients(grads);
  weighting.afterStep?.(() => tf.tidy(() => Array.from(tf.stack(taskLosses(ctx, batch).means).dataSync())));
  return stats!;
}

/**
 * The step of a strategy that needs every task's gradient (GradNorm, PCGrad, MGDA, CAGrad, …): the
 * per-task passes give every gradient the update needs, so there is no pass over the weighted sum.
 * The shared variables take the strategy's combination (Σ w_t g_t when it has none), every other
 * variable Σ w_t ∇L_t (a head only hears its own task), plus the model's regularisation.
 */
function taskGradientStep(ctx: StepContext, batch: Batch, affinity: TaskAffinityMeter | null): tf.Tensor1D {
  const { model, weighting } = ctx;
  const perTask = taskGradients(ctx, batch, true);
  if (affinity) affinity.add(perTask.flat);
  weighting.observe?.(perTask);
  const total = weighting.combine(perTask.losses.map((l) => tf.scalar(l)), ctx.rng);
  const w = weighting.currentWeights();
  const combined = weighting.combineGradients
    ? weighting.combineGradients(perTask, ctx.rng)
    : tf.tidy(() => tf.matMul(tf.tensor2d(w, [1, w.length]), tf.stack(perTask.flat) as tf.Tensor2D).reshape([-1]) as tf.Tensor1D);
  const grads: tf.NamedTensorMap = {};
  let offset = 0;
  for (const v of ctx.shared) {
    grads[v.name] = combined.slice(offset, v.size).reshape(v.shape);
    offset += v.size;
  }
  const shared = new Set(ctx.shared.map((v) => v.name));
  for (const v of ctx.allVariables) {
    if (shared.has(v.name)) continue;
    const parts = perTask.variables.flatMap((g, t) => (g[v.name] && w[t] !== 0 ? [tf.mul(g[v.name], w[t])] : []));
    if (parts.length > 0) grads[v.name] = parts.length === 1 ? parts[0] : tf.addN(parts);
  }
  if (model.regularization) {
    // The penalty may read the step's inputs and logits (DSelect-k's gate entropy, AITM's calibration): one more forward pass.
    const { grads: penalty } = tf.variableGrads(() => model.regularization!({ x: batch.x, logits: taskLosses(ctx, batch).logits }), ctx.allVariables);
    for (const [name, g] of Object.entries(penalty)) grads[name] = grads[name] ? tf.add(grads[name], g) : g;
  }
  ctx.optimizer.applyGradients(grads);
  weighting.afterStep?.(() => tf.tidy(() => Array.from(tf.stack(taskLosses(ctx, batch).means).dataSync())));
  const stats = tf.concat([perTask.parts!, total.reshape([1])]) as tf.Tensor1D;
  perTask.parts!.dispose(); // kept out of its pass's scope for this
  return stats;
}

/**
 * The strategy's own combination of the task gradients on the shared variables: their gradient
 * Σ w_t g_t (+ regularisation) becomes `combined` (+ regularisation).
 */
function replaceSharedGradients(ctx: StepContext, grads: tf.NamedTensorMap, perTask: TaskGradients, combined: tf.Tensor1D): void {
  const w = ctx.weighting.currentWeights();
  const delta = tf.sub(combined, tf.addN(perTask.flat.map((g, t) => tf.mul(g, w[t]) as tf.Tensor1D)));
  let offset = 0;
  for (const v of ctx.shared) {
    const size = v.size;
    const part = delta.slice(offset, size).reshape(v.shape);
    offset += size;
    grads[v.name] = grads[v.name] ? tf.add(grads[v.name], part) : part;
  }
}
