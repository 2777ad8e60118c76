import * as tf from '@tensorflow/tfjs';
// The architectures' custom layers register themselves with tf.serialization on import, so
// importArtifacts can rebuild models that use them even in a process that built none.
import './layers/ait-attention.js';
import './layers/conditional-probability.js';
import './layers/cross-stitch.js';
import './layers/dselect-k-gate.js';
import './layers/gated-mixture.js';
import './layers/joint-logit.js';
import './layers/seeded-dropout.js';

/** A model as plain data: topology JSON, weight specs and one weight buffer (what model.json + weights.bin hold). */
export interface ModelArtifacts {
  modelTopology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** Captures a model's artifacts in memory; the store decides where they go. */
export async function exportArtifacts(model: tf.LayersModel): Promise<ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!captured?.modelTopology || !captured.weightSpecs || !captured.weightData) throw new Error('model export produced no weights');
  const data = captured.weightData;
  const weightData = Array.isArray(data) ? concat(data) : data;
  return { modelTopology: captured.modelTopology as object, weightSpecs: captured.weightSpecs, weightData };
}

export async function importArtifacts(artifacts: ModelArtifacts): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: artifacts.weightData }));
}

function concat(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}
