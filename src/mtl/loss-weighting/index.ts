import type { LossWeighting, LossWeightingContext, LossWeightingMethod } from './loss-weighting.js';
import { staticWeights } from './static.js';
import { uncertainty } from './uncertainty.js';
import { dwa } from './dwa.js';
import { gradnorm } from './gradnorm.js';
import { pcgrad } from './pcgrad.js';
import { mgda } from './mgda.js';
import { cagrad } from './cagrad.js';
import { imtl } from './imtl.js';
import { nashMtl } from './nash-mtl.js';
import { famo } from './famo.js';
import { alignedMtl } from './aligned-mtl.js';
import { rlw } from './rlw.js';
import { dbMtl } from './db-mtl.js';

/** Every loss-weighting strategy, by its spec `strategy`. A new one is one file behind `LossWeightingMethod` and one line here. */
export const LOSS_WEIGHTINGS = {
  static: staticWeights,
  uncertainty,
  dwa,
  gradnorm,
  pcgrad,
  mgda,
  cagrad,
  imtl,
  'nash-mtl': nashMtl,
  famo,
  'aligned-mtl': alignedMtl,
  rlw,
  'db-mtl': dbMtl,
} as const;

export type LossWeightingStrategy = keyof typeof LOSS_WEIGHTINGS;
export const LOSS_WEIGHTING_STRATEGIES = Object.keys(LOSS_WEIGHTINGS) as LossWeightingStrategy[];
/** A resolved `lossWeighting` of the spec: one of the registry's schemas with every parameter present. */
export type ResolvedLossWeighting = (typeof LOSS_WEIGHTINGS)[LossWeightingStrategy] extends infer E ? (E extends LossWeightingMethod<infer C> ? C : never) : never;

/** The strategy a resolved spec asks for, built with its parameters. */
export function createLossWeighting(config: ResolvedLossWeighting, context: LossWeightingContext): LossWeighting {
  return (LOSS_WEIGHTINGS[config.strategy] as unknown as LossWeightingMethod<ResolvedLossWeighting>).create(config, context);
}

/** Whether the strategy takes each task's gradient on the shared weights every step (GradNorm, PCGrad). */
export function takesTaskGradients(config: ResolvedLossWeighting): boolean {
  return (LOSS_WEIGHTINGS[config.strategy] as LossWeightingMethod<unknown>).takesTaskGradients === true;
}

export type { LossWeighting, LossWeightingContext, LossWeightingState, TaskGradients } from './loss-weighting.js';
