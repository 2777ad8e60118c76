import { decodePredictions, encodeInstances, type InstancePrediction } from '../mtl/predictor.js';
import type { Row } from '../mtl/values.js';
import type { LoadedModel, ModelCache } from './model-cache.js';
import { BatcherClosedError } from './predict-batcher.js';

/**
 * Predicts one request's instances with the model `ref` names: encodes them first (a bad instance
 * fails this request alone, with FeatureValueError), joins the model's micro-batch, and decodes
 * exactly this request's rows. A model unloaded while the request waited is loaded again.
 */
export async function servePredictions(cache: ModelCache, ref: string, instances: Row[]): Promise<{ model: LoadedModel; predictions: InstancePrediction[] }> {
  for (let attempt = 1; ; attempt++) {
    const model = await cache.resolve(ref);
    const prep = model.metadata.preprocessing;
    const x = encodeInstances(prep, instances);
    try {
      const outputs = await model.batcher.run(x, instances.length);
      return { model, predictions: decodePredictions(prep, outputs, instances.length) };
    } catch (err) {
      if (!(err instanceof BatcherClosedError) || attempt >= 3) throw err;
    }
  }
}
