import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { randomValues, rng } from './helpers.js';

type Sym = tf.SymbolicTensor;

beforeAll(async () => {
  registerWasmTrainingKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});

function mlp(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 32, activation: 'relu', inputShape: [20] }));
  m.add(tf.layers.dense({ units: 5 }));
  return m;
}

function vgg(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', inputShape: [12, 12, 3] }));
  m.add(tf.layers.batchNormalization());
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', useBias: false }));
  m.add(tf.layers.batchNormalization());
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 16, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 5 }));
  return m;
}

function resnetBlock(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  const conv = (filters: number, strides: number, kernelSize = 3) =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false });
  let x = conv(8, 1).apply(input) as Sym;
  x = tf.layers.batchNormalization().apply(x) as Sym;
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as Sym;
  let y = conv(16, 2).apply(x) as Sym;
  y = tf.layers.batchNormalization().apply(y) as Sym;
  y = tf.layers.activation({ activation: 'relu' }).apply(y) as Sym;
  y = conv(16, 1).apply(y) as Sym;
  y = tf.layers.batchNormalization().apply(y) as Sym;
  const shortcut = conv(16, 2, 1).apply(x) as Sym;
  let z = tf.layers.add().apply([y, shortcut]) as Sym;
  z = tf.layers.activation({ activation: 'relu' }).apply(z) as Sym;
  z = tf.layers.globalAveragePooling2d({}).apply(z) as Sym;
  const out = tf.layers.dense({ units: 5 }).apply(z) as Sym;
  return tf.model({ inputs: input, outputs: out });
}

function lstmLm(vocab: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: vocab, outputDim: 16, inputLength: 6 }));
  m.add(tf.layers.lstm({ units: 16, returnSequences: true }));
  m.add(tf.layers.dense({ units: vocab }));
  return m;
}

/** Trains a few full-batch Adam steps on fixed random data; returns the loss before and after. */
function train(model: tf.LayersModel, x: tf.Tensor, labels: tf.Tensor, steps: number): number[] {
  const optimizer = tf.train.adam(0.01);
  const lossFn = () =>
    tf.tidy(() => {
      const out = model.apply(x, { training: true }) as tf.Tensor;
      const logits = out.reshape([-1, out.shape[out.shape.length - 1]!]);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = optimizer.minimize(lossFn, true)!;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  optimizer.dispose();
  return losses;
}

function oneHot(n: number, classes: number, seed: number): tf.Tensor {
  const next = rng(seed);
  const ids = Int32Array.from({ length: n }, () => Math.floor(next() * classes));
  return tf.tidy(() => tf.oneHot(tf.tensor1d(ids, 'int32'), classes).toFloat());
}

describe('tiny models train on wasm', () => {
  const cases: {
    name: string;
    steps: number;
    build: () => tf.LayersModel;
    x: () => tf.Tensor;
    y: () => tf.Tensor;
  }[] = [
    {
      name: 'MLP',
      build: mlp,
      steps: 8,
      x: () => tf.tensor2d(randomValues(16 * 20, 1), [16, 20]),
      y: () => oneHot(16, 5, 2),
    },
    {
      name: 'VGG-style CNN',
      build: vgg,
      steps: 8,
      x: () => tf.tensor4d(randomValues(8 * 12 * 12 * 3, 3), [8, 12, 12, 3]),
      y: () => oneHot(8, 5, 4),
    },
    {
      name: 'ResNet block',
      build: resnetBlock,
      steps: 8,
      x: () => tf.tensor4d(randomValues(8 * 12 * 12 * 3, 5), [8, 12, 12, 3]),
      y: () => oneHot(8, 5, 6),
    },
    {
      name: 'LSTM LM',
      build: () => lstmLm(30),
      steps: 30,
      x: () => {
        const next = rng(7);
        return tf.tensor2d(
          Int32Array.from({ length: 4 * 6 }, () => Math.floor(next() * 30)),
          [4, 6],
          'int32',
        );
      },
      y: () => oneHot(4 * 6, 30, 8),
    },
  ];
  it.each(cases)('$name: loss decreases and no tensor leaks', ({ build, x, y, steps }) => {
    const model = build();
    const xs = x();
    const ys = y();
    const before = tf.memory().numTensors;
    const losses = train(model, xs, ys, steps);
    expect(tf.memory().numTensors).toBe(before);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.9);
    tf.dispose([xs, ys]);
    model.dispose();
  });
});
