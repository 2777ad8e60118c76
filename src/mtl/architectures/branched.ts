import * as tf from '@tensorflow/tfjs';
import { Type, type TSchema } from '@sinclair/typebox';
import { ActivationSchema, DropoutSchema } from '../spec-fields.js';
import { variantSchema, type VariantOf } from '../spec-variants.js';
import type { FieldError } from '../spec-error.js';
import type { Architecture } from './architecture.js';
import { denseStack, hiddenDropout, seededInit, stackSize, variablesOf } from './layers.js';

/** A node of a branched tree: Dense `layers` on its parent's output (the root's: the input), the heads of `tasks` on its output, and child `branches`. */
export interface BranchNode {
  layers?: number[];
  tasks?: string[];
  branches?: BranchNode[];
}

/** The deepest a tree may be: the root and seven levels of branches below it. */
export const MAX_TREE_DEPTH = 8;
/** The tree of a branched spec without one: every task on one trunk, the same as hard sharing's default. */
export const DEFAULT_ROOT_LAYERS = [128, 64];

/**
 * The node schema, unrolled MAX_TREE_DEPTH levels deep (no recursive `$ref`, so the OpenAPI document
 * and the typed client stay plain); the deepest level takes any `branches`, which `check` refuses by depth.
 */
function nodeSchema(levels: number, root: boolean): TSchema {
  return Type.Unsafe<BranchNode>(
    Type.Object(
      {
        layers: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), { maxItems: 8, description: 'units of each Dense layer of this node, applied to its parent\'s output (the root\'s: the input); default none' })),
        tasks: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 512, description: 'tasks whose heads read this node\'s output' })),
        branches: Type.Optional(Type.Array(levels > 1 ? nodeSchema(levels - 1, false) : Type.Unknown(), { minItems: 1, maxItems: 64, description: 'child nodes, each reading this node\'s output' })),
      },
      { additionalProperties: false, ...(root ? { description: 'the sharing tree: each task in exactly one node; default every task at a root of layers [128, 64]' } : {}) },
    ),
  );
}

export const BranchedSchema = variantSchema(
  'type',
  'branched',
  {
    tree: Type.Optional(nodeSchema(MAX_TREE_DEPTH, true)),
    activation: ActivationSchema,
    dropout: DropoutSchema,
  },
  'Branched sharing tree: tasks share the layers of the nodes above them and branch where the tree does (full sharing, separate towers, groups, shared-then-branch).',
);
export type Branched = VariantOf<typeof BranchedSchema> & { tree?: BranchNode };

/** A node of the tree with its path (`0` the root, `0_1` its second branch) and the tasks of its subtree. */
interface PlacedNode {
  path: string;
  layers: number[];
  tasks: string[];
  branches: PlacedNode[];
  /** Tasks whose heads sit on this node or below it. */
  served: string[];
}

/**
 * Branched multi-task network (Vandenhende et al. 2020): a tree whose every node is a Dense stack
 * (`branch_<path>_<i>`, path `0` for the root, `0_1` for its second branch, …) on its parent's output.
 * A task's head (`<task>_logits`) reads the output of the node that lists it, so tasks share exactly
 * the nodes on the way from the input to their own; a task under nodes without layers is a linear
 * model of the inputs. Shared variables: the layers of nodes that serve two or more tasks.
 *
 * Building for a subset of the tree's tasks (the single-task baselines train one task with the same
 * architecture) prunes the tree to them; a head the tree does not list reads the root.
 */
export const branched: Architecture<Branched> = {
  schema: BranchedSchema,
  check(a, tasks) {
    return a.tree === undefined ? [] : treeProblems(a.tree, tasks);
  },
  resolve(a, tasks) {
    return { ...a, tree: normalise(a.tree ?? { layers: DEFAULT_ROOT_LAYERS, tasks }) };
  },
  build({ architecture: a, heads, inputSize, seed }) {
    const init = seededInit(seed);
    const drop = hiddenDropout(a.dropout, seed);
    const input = tf.input({ shape: [inputSize], name: 'features' });
    const towers = new Map<string, tf.SymbolicTensor>();
    const grow = (node: PlacedNode, from: tf.SymbolicTensor) => {
      const out = denseStack(from, node.layers, a.activation, init, (i) => layerName(node.path, i), drop);
      for (const task of node.tasks) towers.set(task, out);
      for (const child of node.branches) grow(child, out);
    };
    grow(placed(a, heads.map((h) => h.name)), input);
    return { input, towers: heads.map((h) => towers.get(h.name)!) };
  },
  parts(serving, heads, a) {
    const names: string[] = [];
    const walk = (node: PlacedNode) => {
      if (node.served.length > 1) names.push(...node.layers.map((_, i) => layerName(node.path, i)));
      node.branches.forEach(walk);
    };
    walk(placed(a, heads.map((h) => h.name)));
    return { sharedVariables: variablesOf(serving, names) };
  },
  size(a, inputSize, headWidths, tasks) {
    const width = new Map(tasks.map((t, i) => [t, headWidths[i]]));
    let parameters = 0;
    let units = 0;
    const walk = (node: PlacedNode, input: number) => {
      const stack = stackSize(node.layers, input);
      parameters += stack.params;
      units += stack.units;
      for (const task of node.tasks) {
        const w = width.get(task) ?? 1;
        parameters += stack.out * w + w;
        units += w;
      }
      for (const child of node.branches) walk(child, stack.out);
    };
    walk(placed(a, tasks), inputSize);
    return { parameters, units };
  },
};

/** The name of a node's i-th Dense layer. */
export function layerName(path: string, layer: number): string {
  return `branch_${path}_${layer}`;
}

/** Task names that would clash with the layer names of the tree. */
const LAYER_NAME = /^branch(_[0-9]+)+$/;

/** The resolved tree: every node with its `layers` (possibly empty); `tasks` and `branches` only where given. */
function normalise(node: BranchNode): BranchNode {
  const out: BranchNode = { layers: [...(node.layers ?? [])] };
  if (node.tasks) out.tasks = [...node.tasks];
  if (node.branches) out.branches = node.branches.map(normalise);
  return out;
}

/** The tree for these heads: their tasks only, nodes serving none of them dropped, heads the tree lacks on the root. */
function placed(a: Branched, heads: string[]): PlacedNode {
  const wanted = new Set(heads);
  const place = (node: BranchNode, path: string): PlacedNode => {
    const tasks = (node.tasks ?? []).filter((t) => wanted.has(t));
    const branches = (node.branches ?? []).map((b, j) => place(b, `${path}_${j}`)).filter((b) => b.served.length > 0);
    return { path, layers: node.layers ?? [], tasks, branches, served: [...tasks, ...branches.flatMap((b) => b.served)] };
  };
  const root = place(a.tree ?? { layers: DEFAULT_ROOT_LAYERS, tasks: heads }, '0');
  const missing = heads.filter((h) => !root.served.includes(h));
  root.tasks.push(...missing);
  root.served.push(...missing);
  return root;
}

/** Each task of the spec exactly once, no unknown task, every node with tasks or branches, at most MAX_TREE_DEPTH deep. */
function treeProblems(tree: BranchNode, tasks: string[]): FieldError[] {
  const errors: FieldError[] = [];
  const known = new Set(tasks);
  const seen = new Map<string, string>();
  const placedTasks = new Set<string>();
  const visit = (node: BranchNode, at: string, depth: number) => {
    if (depth > MAX_TREE_DEPTH) {
      errors.push({ pointer: at, detail: `the tree is deeper than ${MAX_TREE_DEPTH} levels` });
      return;
    }
    const own = node.tasks ?? [];
    const branches = node.branches ?? [];
    if (own.length === 0 && branches.length === 0) errors.push({ pointer: at, detail: 'a node needs tasks or branches (it would serve no task)' });
    own.forEach((task, i) => {
      const pointer = `${at}/tasks/${i}`;
      placedTasks.add(task);
      if (!known.has(task)) errors.push({ pointer, detail: `unknown task '${task}'; the spec's tasks are ${tasks.map((t) => `'${t}'`).join(', ')}` });
      else if (seen.has(task)) errors.push({ pointer, detail: `task '${task}' is already placed at ${seen.get(task)}; each task appears exactly once` });
      else if (LAYER_NAME.test(task)) errors.push({ pointer, detail: `task name '${task}' clashes with the branched layers' names (branch_<path>_<i>); rename the task` });
      else seen.set(task, pointer);
    });
    branches.forEach((child, j) => visit(child, `${at}/branches/${j}`, depth + 1));
  };
  visit(tree, '/architecture/tree', 1);
  const missing = tasks.filter((t) => !placedTasks.has(t));
  if (missing.length > 0) errors.push({ pointer: '/architecture/tree', detail: `the tree places no head for ${missing.map((t) => `'${t}'`).join(', ')}; every task appears exactly once` });
  return errors;
}
