import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/optimizers/index.js';
import { values, worstRatio } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const LR = 0.01;
const DECAY = 0.01;
const S = 1;

/**
 * tfjs-layers drives the optimizer through `minimize(lossFn, true, variables)` once per batch. This
 * proves, through a real `model.fit` / `fitDataset`, that the loss sees θ̂ (the closed form from
 * the true weights of the two previous batches) and that outside `minimize` (callbacks, the end of
 * fit, evaluate) the variables hold θ_t.
 */
function setUp() {
  const dense = tf.layers.dense({ units: 2, inputShape: [3], name: 'fit_probe' });
  const model = tf.sequential({ layers: [dense] });
  const seenInLoss: number[][] = [];
  const afterBatch: number[][] = [];
  const kernel = () => values(dense.getWeights()[0]!);
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor) => {
    seenInLoss.push(kernel());
    return tf.losses.meanSquaredError(yTrue, yPred);
  };
  const optimizer = new AdamW({ learningRate: LR, weightDecay: DECAY, predictionSteps: S });
  model.compile({ optimizer, loss, metrics: ['mse'] });
  const initial = kernel();
  const callbacks = { onBatchEnd: async () => void afterBatch.push(kernel()) };
  return { model, optimizer, seenInLoss, afterBatch, kernel, initial, callbacks };
}

function expectPredictedWeights(initial: number[], seenInLoss: number[][], afterBatch: number[][]) {
  expect(seenInLoss.length).toBe(afterBatch.length);
  expect(seenInLoss[0]).toEqual(initial); // first iteration: no state yet, plain AdamW
  for (let b = 1; b < seenInLoss.length; b++) {
    const current = afterBatch[b - 1]!;
    const previous = b >= 2 ? afterBatch[b - 2]! : initial;
    const expected = current.map((t, i) => t + S * (t - (1 - LR * DECAY) * previous[i]!));
    expect(worstRatio(seenInLoss[b]!, expected, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    expect(seenInLoss[b]).not.toEqual(current);
  }
}

describe('drop-in with tfjs-layers', () => {
  const x = () => tf.randomNormal([32, 3], 0, 1, 'float32', 7);
  const y = () => tf.randomNormal([32, 2], 0, 1, 'float32', 8);

  it('model.fit: the loss sees θ̂, callbacks and the caller see θ_t, nothing leaks', async () => {
    const { model, optimizer, seenInLoss, afterBatch, kernel, initial, callbacks } = setUp();
    const [xs, ys] = [x(), y()];
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0, callbacks });
    const tensorsAfterFirstFit = tf.memory().numTensors;
    expectPredictedWeights(initial, seenInLoss, afterBatch);
    expect(kernel()).toEqual(afterBatch.at(-1));
    expect(optimizer.iterations).toBe(4);

    await model.fit(xs, ys, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstFit);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('model.fitDataset: the same', async () => {
    const { model, seenInLoss, afterBatch, kernel, initial, callbacks } = setUp();
    const [xs, ys] = [x(), y()];
    const dataset = tf.data
      .zip({ xs: tf.data.array(tf.unstack(xs)), ys: tf.data.array(tf.unstack(ys)) })
      .batch(8);
    await model.fitDataset(dataset, { epochs: 2, verbose: 0, callbacks });
    expect(afterBatch.length).toBe(8);
    expectPredictedWeights(initial, seenInLoss, afterBatch);
    expect(kernel()).toEqual(afterBatch.at(-1));
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('model.evaluate and model.predict after fit use θ_t', async () => {
    const { model, kernel, afterBatch, callbacks } = setUp();
    const [xs, ys] = [x(), y()];
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0, callbacks });
    const bias = values(model.layers[0]!.getWeights()[1]!);
    const w = tf.tensor(afterBatch.at(-1)!, [3, 2]);
    const manual = tf.tidy(() => values(xs.matMul(w).add(tf.tensor1d(bias))));
    const predicted = model.predict(xs) as tf.Tensor;
    expect(worstRatio(values(predicted), manual, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    expect(kernel()).toEqual(afterBatch.at(-1));
    tf.dispose([xs, ys, w, predicted]);
    model.dispose();
  });
});
