import type { Architecture } from './architecture.js';
import { hardSharing } from './hard-sharing.js';
import { softSharing } from './soft-sharing.js';
import { mmoe } from './mmoe.js';
import { ple } from './ple.js';
import { dselectK } from './dselect-k.js';
import { branched } from './branched.js';

/** Every architecture, by its spec `type`. A new one is one file behind `Architecture` and one line here. */
export const ARCHITECTURES = {
  'hard-sharing': hardSharing,
  'soft-sharing': softSharing,
  mmoe,
  ple,
  'dselect-k': dselectK,
  branched,
} as const;

export type ArchitectureType = keyof typeof ARCHITECTURES;
export const ARCHITECTURE_TYPES = Object.keys(ARCHITECTURES) as ArchitectureType[];
/** A resolved `architecture` of the spec: one of the registry's schemas with every field present. */
export type ResolvedArchitecture = (typeof ARCHITECTURES)[ArchitectureType] extends infer E ? (E extends Architecture<infer A> ? A : never) : never;

/** The registry's entry for a resolved architecture. */
export function architectureOf<A extends ResolvedArchitecture>(a: A): Architecture<A> {
  return ARCHITECTURES[a.type] as unknown as Architecture<A>;
}

export type { Architecture, ArchitectureGraph, ArchitectureParts, BuildModelArgs, HeadSpec, MultiTaskModel, StepTensors } from './architecture.js';
