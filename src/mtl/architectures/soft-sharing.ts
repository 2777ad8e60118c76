import type * as tf from '@tensorflow/tfjs';
import type { ResolvedArchitecture } from '../spec.js';
import type { ArchitectureGraph, BuildModelArgs, HeadSpec, MultiTaskModel } from '../model-builder.js';

type SoftSharing = Extract<ResolvedArchitecture, { type: 'soft-sharing' }>;

// TODO(helper): implement (issue 3).
export function buildSoftSharing(_args: BuildModelArgs<SoftSharing>): ArchitectureGraph {
  throw new Error("architecture 'soft-sharing' is not implemented yet");
}

export function softSharingParts(_serving: tf.LayersModel, _heads: HeadSpec[], _a: SoftSharing): Pick<MultiTaskModel, 'sharedVariables' | 'regularization'> {
  throw new Error("architecture 'soft-sharing' is not implemented yet");
}
