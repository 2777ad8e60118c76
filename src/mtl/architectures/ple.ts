import type * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import type { ArchitectureGraph, BuildModelArgs, HeadSpec, MultiTaskModel } from '../model-builder.js';

type Ple = Extract<ResolvedArchitecture, { type: 'ple' }>;

// TODO(helper): implement (issue 3).
export function buildPle(_args: BuildModelArgs<Ple>): ArchitectureGraph {
  throw new Error("architecture 'ple' is not implemented yet");
}

export function pleParts(_serving: tf.LayersModel, _heads: HeadSpec[], _a: Ple): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  throw new Error("architecture 'ple' is not implemented yet");
}
