import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.js';
import { createOptimizer, type OptimizerName } from '../../src/optimizers/index.js';

/**
 * Every optimizer, with weight prediction on, trains a real model through `model.compile` +
 * `model.fit`: an MLP 784-64-10 on the first 20,000 MNIST training images, one epoch, evaluated on
 * the full 10,000-image test set. A sensible accuracy here is ≥ 0.9 (chance is 0.1; the same MLP
 * reaches about 0.92 this way); the runs take one to two seconds each on the wasm backend.
 */
const TRAIN = 20_000;
const TEST = 10_000;

const cases: [string, OptimizerName, Record<string, unknown>][] = [
  ['AdamW', 'adamw', { learningRate: 2e-3, predictionSteps: 0 }],
  ['AdamW s=1', 'adamw', { learningRate: 2e-3, predictionSteps: 1 }],
  ['Adam s=1', 'adam', { learningRate: 2e-3, predictionSteps: 1 }],
  ['SGD momentum s=1', 'sgd', { learningRate: 0.05, momentum: 0.9, predictionSteps: 1 }],
  ['RMSprop s=1', 'rmsprop', { learningRate: 1e-3, predictionSteps: 1 }],
  ['AdaBelief s=1', 'adabelief', { learningRate: 2e-3, predictionSteps: 1 }],
];

let x: tf.Tensor;
let y: tf.Tensor;
let xTest: tf.Tensor;
let yTest: tf.Tensor;

beforeAll(async () => {
  await tf.setBackend('wasm');
  const data = loadMnist({ trainLimit: TRAIN, testLimit: TEST });
  x = tf.tensor(data.train.images, [TRAIN, 784]);
  y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 10);
  xTest = tf.tensor(data.test.images, [TEST, 784]);
  yTest = tf.oneHot(tf.tensor1d(data.test.labels, 'int32'), 10);
});

describe('model.fit on MNIST with every optimizer', () => {
  it.each(cases)('%s reaches ≥ 90% test accuracy in one epoch', async (_label, name, options) => {
    const before = tf.memory().numTensors;
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          units: 64,
          inputShape: [784],
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.dense({
          units: 10,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    });
    const optimizer = createOptimizer(name, options);
    model.compile({
      optimizer,
      loss: (yTrue: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, logits),
      metrics: ['categoricalAccuracy'],
    });
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    const [, accuracy] = model.evaluate(xTest, yTest, { batchSize: 500 }) as tf.Scalar[];
    const value = (await accuracy!.data())[0]!;
    expect(value).toBeGreaterThanOrEqual(0.9);
    tf.dispose(model.evaluate(xTest, yTest, { batchSize: 500 }) as tf.Scalar[]);
    model.dispose();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2); // the two evaluate scalars
  });
});
