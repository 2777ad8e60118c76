import type * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import type { ArchitectureGraph, BuildModelArgs, HeadSpec, MultiTaskModel } from '../model-builder.js';

type Mmoe = Extract<ResolvedArchitecture, { type: 'mmoe' }>;

// TODO(helper): implement (issue 3).
export function buildMmoe(_args: BuildModelArgs<Mmoe>): ArchitectureGraph {
  throw new Error("architecture 'mmoe' is not implemented yet");
}

export function mmoeParts(_serving: tf.LayersModel, _heads: HeadSpec[], _a: Mmoe): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  throw new Error("architecture 'mmoe' is not implemented yet");
}
