import type * as tf from '@tensorflow/tfjs';

/**
 * Number of scalar parameters in `model`: by default the trainable ones (what an optimizer
 * updates); `'all'` adds the non-trainable ones (BatchNorm moving statistics). A variable shared by
 * two layers (tied embeddings) is counted once.
 */
export function countParameters(
  model: tf.LayersModel,
  which: 'trainable' | 'all' = 'trainable',
): number {
  const weights = which === 'all' ? model.weights : model.trainableWeights;
  const seen = new Set<string>();
  let total = 0;
  for (const w of weights) {
    // `name` is unique per variable in the process (tfjs-layers suffixes repeats), so it
    // identifies the variable, not the layer that reads it.
    if (seen.has(w.name)) continue;
    seen.add(w.name);
    total += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  }
  return total;
}

/**
 * The model's weight names as checkpoints and `model.save` see them (`dense1/kernel`, …): the
 * layer-scoped `originalName`, identical for every build of the same architecture in one process,
 * unlike `LayerVariable.name`, which tfjs-layers suffixes (`_1`, `_2`) when a name repeats.
 */
export function weightNames(model: tf.LayersModel): string[] {
  return model.weights.map((w) => w.originalName);
}
