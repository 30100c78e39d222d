import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** Every weight's values, keyed by its stable (layer-scoped) name. */
export function weightValues(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
}

export function expectSameWeights(a: tf.LayersModel, b: tf.LayersModel): void {
  const wa = weightValues(a);
  const wb = weightValues(b);
  expect([...wa.keys()]).toEqual([...wb.keys()]);
  for (const [name, values] of wa) expect(wb.get(name), name).toEqual(values);
}

/** Every randomly initialized weight (kernels, embeddings) differs between the two models. */
export function expectDifferentRandomWeights(a: tf.LayersModel, b: tf.LayersModel): void {
  const wb = weightValues(b);
  let compared = 0;
  for (const [name, values] of weightValues(a)) {
    if (!/kernel|embeddings/.test(name)) continue;
    const other = wb.get(name) as Float32Array;
    const same = values.filter((v, i) => v === other[i]).length;
    expect(same, `${name}: ${same} of ${values.length} values equal`).toBeLessThan(
      values.length / 10,
    );
    compared++;
  }
  expect(compared).toBeGreaterThan(0);
}

export interface TrainResult {
  losses: number[];
  /** `tf.memory().numTensors` after each step. */
  tensorCounts: number[];
}

/**
 * Runs `steps` Adam steps on `variables` minimizing `loss` and records the loss and tensor count
 * after each step. Adam creates its moment slots on the first step, so the count is flat from
 * step 1 on when nothing leaks.
 */
export function trainWithAdam(
  variables: tf.Variable[],
  loss: () => tf.Scalar,
  steps: number,
  learningRate = 0.01,
): TrainResult {
  const optimizer = tf.train.adam(learningRate);
  const losses: number[] = [];
  const tensorCounts: number[] = [];
  for (let i = 0; i < steps; i++) {
    const cost = optimizer.minimize(loss, true, variables) as tf.Scalar;
    losses.push(cost.dataSync()[0] as number);
    cost.dispose();
    tensorCounts.push(tf.memory().numTensors);
  }
  optimizer.dispose();
  return { losses, tensorCounts };
}

export function expectTrainingWorks(result: TrainResult, factor = 0.7): void {
  const { losses, tensorCounts } = result;
  expect(losses.every(Number.isFinite)).toBe(true);
  const first = losses[0] as number;
  const last = losses[losses.length - 1] as number;
  expect(last, `loss ${first} → ${last}`).toBeLessThan(first * factor);
  expect(new Set(tensorCounts.slice(1)).size, `tensor counts ${tensorCounts}`).toBe(1);
}

export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Softmax cross-entropy of `model` (training mode) on fixed inputs and integer labels. */
export function classificationLoss(
  model: tf.LayersModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  numClasses: number,
): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits) as tf.Scalar;
    });
}

/** The same random data for every run: host-side seeded draws. */
export function randomBatch(
  shape: number[],
  numClasses: number,
  seed: number,
): { x: tf.Tensor; labels: tf.Tensor1D } {
  const x = tf.randomNormal(shape, 0, 1, 'float32', seed);
  const labels = tf.tidy(() =>
    tf.cast(
      tf.floor(tf.randomUniform([shape[0] as number], 0, numClasses, 'float32', seed + 1)),
      'int32',
    ),
  ) as tf.Tensor1D;
  return { x, labels };
}
