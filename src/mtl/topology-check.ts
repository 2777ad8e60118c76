/**
 * Checks a layers-model topology (model.json's `modelTopology`) that came from outside before
 * TensorFlow.js builds it: tfjs allocates every layer's weights from the layer's config (a Dense
 * layer's kernel is inputs × units) before it compares them with the weights file, so a topology
 * claiming huge layers would exhaust memory however small its weights. This walks the graph with
 * the layer classes this engine makes (InputLayer, Dense, Activation, SeededDropout, CrossStitch, GatedMixture,
 * DSelectKGate, and the cascades' JointLogit, ConditionalProbability, AitAttention),
 * works out each tensor's width, and requires every weight a layer will allocate to be in the
 * manifest with exactly that shape (the manifest's size is checked against the weights file by the
 * caller). Anything else is a TopologyError naming the layer.
 */

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}

/** The model's input width and its outputs (layer names, widths) in output order. */
export interface TopologySummary {
  inputWidth: number;
  outputs: { name: string; width: number }[];
}

interface LayerJson {
  name?: unknown;
  class_name?: unknown;
  config?: Record<string, unknown>;
  inbound_nodes?: unknown;
}

const MAX_LAYERS = 10_000;
const MAX_EXPERTS = 4096;

export function checkTopology(topology: unknown, weightSpecs: readonly { name: string; shape: readonly number[] }[]): TopologySummary {
  const top = topology as { class_name?: unknown; config?: { layers?: unknown; input_layers?: unknown; output_layers?: unknown } };
  if (typeof top !== 'object' || top === null || top.class_name !== 'Model' || typeof top.config !== 'object' || top.config === null)
    throw new TopologyError('the topology is not a functional layers model (class_name "Model")');
  const { layers, input_layers: inputLayers, output_layers: outputLayers } = top.config;
  if (!Array.isArray(layers) || layers.length === 0 || layers.length > MAX_LAYERS) throw new TopologyError(`the topology must list 1 to ${MAX_LAYERS} layers`);
  const specs = new Map(weightSpecs.map((w) => [w.name, w.shape]));
  const used = new Set<string>();
  const widths = new Map<string, number[]>();

  const weight = (layer: string, w: string, shape: number[]) => {
    const name = `${layer}/${w}`;
    const found = specs.get(name);
    if (!found || found.length !== shape.length || found.some((d, i) => d !== shape[i]))
      throw new TopologyError(`layer '${layer}' needs weight '${name}' of shape [${shape}]; the manifest has ${found ? `[${found}]` : 'none'}`);
    used.add(name);
  };

  for (const raw of layers as LayerJson[]) {
    const name = raw?.name;
    if (typeof name !== 'string' || name === '' || widths.has(name)) throw new TopologyError(`a layer has a missing or repeated name (${JSON.stringify(name)})`);
    const config = raw.config ?? {};
    const inputs = inboundWidths(raw, widths);
    switch (raw.class_name) {
      case 'InputLayer': {
        const shape = config.batch_input_shape ?? config.batchInputShape;
        if (!Array.isArray(shape) || shape.length !== 2 || shape[0] !== null || !positiveInt(shape[1])) throw new TopologyError(`input layer '${name}' must have batch_input_shape [null, width]`);
        widths.set(name, [shape[1] as number]);
        break;
      }
      case 'Dense': {
        const units = config.units;
        if (inputs.length !== 1 || !positiveInt(units)) throw new TopologyError(`dense layer '${name}' needs one input and a positive number of units`);
        weight(name, 'kernel', [inputs[0], units]);
        if (config.use_bias !== false) weight(name, 'bias', [units]);
        widths.set(name, [units]);
        break;
      }
      case 'SeededDropout': {
        const rate = config.rate;
        if (inputs.length !== 1 || typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new TopologyError(`dropout layer '${name}' needs one input and a rate in [0, 1)`);
        widths.set(name, [inputs[0]]);
        break;
      }
      case 'Activation':
        if (inputs.length !== 1) throw new TopologyError(`activation layer '${name}' needs one input`);
        widths.set(name, [inputs[0]]);
        break;
      case 'CrossStitch': {
        if (inputs.length === 0 || inputs.some((w) => w !== inputs[0])) throw new TopologyError(`cross-stitch layer '${name}' needs towers of equal width`);
        weight(name, 'alpha', [inputs.length, inputs.length]);
        widths.set(name, inputs.map(() => inputs[0]));
        break;
      }
      case 'GatedMixture': {
        const [gate, ...experts] = inputs;
        if (experts.length === 0 || gate !== experts.length || experts.some((w) => w !== experts[0])) throw new TopologyError(`gated mixture '${name}' needs a gate of one weight per expert and experts of equal width`);
        widths.set(name, [experts[0]]);
        break;
      }
      case 'DSelectKGate': {
        // weights per selector k: log2(experts) bits; per example (default) from the input, else fixed
        const { experts, k } = config;
        if (inputs.length !== 1 || !positiveInt(experts) || !positiveInt(k) || (experts as number) > MAX_EXPERTS) throw new TopologyError(`DSelect-k gate '${name}' needs one input, experts (1–${MAX_EXPERTS}) and k`);
        const bits = Math.ceil(Math.log2(experts as number));
        if (config.perExample === false) {
          weight(name, 'z_logits', [k as number, bits]);
          weight(name, 'w_logits', [k as number]);
        } else {
          weight(name, 'z_kernel', [inputs[0], (k as number) * bits]);
          weight(name, 'z_bias', [(k as number) * bits]);
          weight(name, 'w_kernel', [inputs[0], k as number]);
          weight(name, 'w_bias', [k as number]);
        }
        widths.set(name, [experts as number]);
        break;
      }
      case 'JointLogit': // [parent logit, task logit] → the joint's logit, the task's width
        if (inputs.length !== 2) throw new TopologyError(`joint layer '${name}' needs two inputs`);
        widths.set(name, [inputs[1]]);
        break;
      case 'ConditionalProbability': // [joint, parent] → p(task | parent), the joint's width
        if (inputs.length !== 2) throw new TopologyError(`conditional layer '${name}' needs two inputs`);
        widths.set(name, [inputs[0]]);
        break;
      case 'AitAttention': {
        if (inputs.length !== 2 || inputs[0] !== inputs[1]) throw new TopologyError(`AIT attention '${name}' needs two inputs of equal width`);
        for (const w of ['query', 'key', 'value']) weight(name, w, [inputs[0], inputs[0]]);
        widths.set(name, [inputs[0]]);
        break;
      }
      default:
        throw new TopologyError(`layer '${name}' is a ${JSON.stringify(raw.class_name)}; models of this service use InputLayer, Dense, Activation, SeededDropout, CrossStitch, GatedMixture, DSelectKGate, JointLogit, ConditionalProbability and AitAttention only`);
    }
  }
  const unused = weightSpecs.find((w) => !used.has(w.name));
  if (unused) throw new TopologyError(`the manifest has weight '${unused.name}', which no layer uses`);
  const ins = tensorRefs(inputLayers, widths, 'input_layers');
  if (ins.length !== 1) throw new TopologyError('the model must have exactly one input');
  const outs = tensorRefs(outputLayers, widths, 'output_layers');
  if (outs.length === 0) throw new TopologyError('the model has no outputs');
  return { inputWidth: ins[0].width, outputs: outs };
}

function positiveInt(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1 << 24;
}

/** Widths of the tensors a layer takes (one inbound node: layers are not shared in these models). */
function inboundWidths(raw: LayerJson, widths: Map<string, number[]>): number[] {
  const nodes = raw.inbound_nodes ?? [];
  if (!Array.isArray(nodes) || nodes.length > 1) throw new TopologyError(`layer '${String(raw.name)}' must be called at most once`);
  if (nodes.length === 0) return [];
  if (!Array.isArray(nodes[0])) throw new TopologyError(`layer '${String(raw.name)}' has a malformed inbound node`);
  return tensorRefs(nodes[0], widths, `layer '${String(raw.name)}'`).map((r) => r.width);
}

/** [[layer, nodeIndex, tensorIndex, …], …] → the widths of those tensors (layers must come before their users). */
function tensorRefs(refs: unknown, widths: Map<string, number[]>, where: string): { name: string; width: number }[] {
  if (!Array.isArray(refs)) throw new TopologyError(`${where}: malformed tensor references`);
  return refs.map((ref) => {
    if (!Array.isArray(ref) || typeof ref[0] !== 'string' || ref[1] !== 0 || !Number.isSafeInteger(ref[2])) throw new TopologyError(`${where}: malformed tensor reference ${JSON.stringify(ref)}`);
    const width = widths.get(ref[0])?.[ref[2] as number];
    if (width === undefined) throw new TopologyError(`${where} uses '${ref[0]}' (output ${ref[2]}) before it is defined`);
    return { name: ref[0], width };
  });
}
