import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { conv2d } from '../../src/models/conv.js';
import { randomValues } from '../kernels/helpers.js';

/**
 * The models' conv layer against the stock tfjs-layers Conv2D on the same backend: the same
 * forward values and the same gradients, bit for bit (the same kernels run), on cpu and on wasm
 * (with the native addon when it loads); and, for bias-free linear layers, no input gradient
 * computed when the input is not being differentiated.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

type ConvArgs = Parameters<typeof tf.layers.conv2d>[0];

interface Outcome {
  y: Float32Array;
  grads: Float32Array[];
  /** Conv2DBackpropInput kernels run by the gradient. */
  inputGradients: number;
}

async function runLayer(
  layer: tf.layers.Layer,
  shape: [number, number, number, number],
  differentiateInput: boolean,
  seed: number,
): Promise<Outcome> {
  const x = tf.tensor4d(
    randomValues(
      shape.reduce((a, b) => a * b),
      seed,
    ),
    shape,
  );
  if (!layer.built) layer.build(shape);
  tf.tidy(() =>
    layer.setWeights(
      layer.getWeights().map((t, i) => tf.tensor(randomValues(t.size, seed + 2 + i), t.shape)),
    ),
  );
  const xVar = tf.variable(x);
  const vars = [
    ...(differentiateInput ? [xVar] : []),
    ...layer.trainableWeights.map((v) => v.read() as tf.Variable),
  ];
  let y!: Float32Array;
  let grads!: Record<string, tf.Tensor>;
  let value!: tf.Scalar;
  const profile = await tf.profile(() => {
    ({ value, grads } = tf.variableGrads(() => {
      const out = layer.apply(xVar, { training: true }) as tf.Tensor;
      y = (out.dataSync() as Float32Array).slice();
      const w = tf.tensor(randomValues(out.size, seed + 1), out.shape);
      return out.mul(w).sum() as tf.Scalar;
    }, vars));
  });
  const result = {
    y,
    grads: vars.map((v) => (grads[v.name]!.dataSync() as Float32Array).slice()),
    inputGradients: profile.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length,
  };
  tf.dispose([x, xVar, value, ...Object.values(grads)]);
  return result;
}

const cases: { args: ConvArgs; shape: [number, number, number, number] }[] = [
  { args: { filters: 16, kernelSize: 3, padding: 'same', useBias: false }, shape: [4, 9, 9, 1] },
  {
    args: { filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false },
    shape: [3, 10, 11, 5],
  },
  {
    args: { filters: 6, kernelSize: [3, 2], padding: 'valid', useBias: false },
    shape: [2, 12, 9, 4],
  },
  { args: { filters: 7, kernelSize: 1, padding: 'valid', useBias: false }, shape: [2, 5, 5, 3] },
  // The stock layer's own path: a bias, or an activation.
  { args: { filters: 4, kernelSize: 3, padding: 'same', useBias: true }, shape: [2, 6, 6, 3] },
  {
    args: { filters: 4, kernelSize: 3, padding: 'same', useBias: false, activation: 'relu' },
    shape: [2, 6, 6, 3],
  },
];

describe('conv2d (the models’ layer)', () => {
  for (const backend of ['cpu', 'wasm']) {
    it.each(cases)(
      `matches the stock layer bit for bit on ${backend}: %j`,
      async ({ args, shape }) => {
        await tf.setBackend(backend);
        for (const differentiateInput of [true, false]) {
          const stock = await runLayer(tf.layers.conv2d(args), shape, differentiateInput, 3);
          const ours = await runLayer(conv2d(args), shape, differentiateInput, 3);
          expect(ours.y).toEqual(stock.y);
          expect(ours.grads.length).toBe(
            differentiateInput ? 2 + (args.useBias ? 1 : 0) : 1 + (args.useBias ? 1 : 0),
          );
          ours.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(stock.grads[i]));
          // Bias-free and linear: ours skips the data's gradient, which the stock layer computes.
          const fast = args.useBias === false && args.activation === undefined;
          expect(ours.inputGradients).toBe(
            differentiateInput ? 1 : fast ? 0 : stock.inputGradients,
          );
        }
      },
    );
  }

  it('skips the input gradient of a bias-free linear layer when the input is data', async () => {
    await tf.setBackend('wasm');
    const args: ConvArgs = { filters: 16, kernelSize: 3, padding: 'same', useBias: false };
    const stock = await runLayer(tf.layers.conv2d(args), [2, 8, 8, 1], false, 7);
    const ours = await runLayer(conv2d(args), [2, 8, 8, 1], false, 7);
    // The stock layer's fused op computes it and throws it away.
    expect(stock.inputGradients).toBe(1);
    expect(ours.inputGradients).toBe(0);
  });

  it('keeps the stock class name and config', () => {
    const args: ConvArgs = { filters: 5, kernelSize: 3, strides: 2, useBias: false, name: 'c' };
    const ours = conv2d(args);
    expect(ours.getClassName()).toBe('Conv2D');
    expect(ours.getConfig()).toEqual(tf.layers.conv2d(args).getConfig());
  });

  it('leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const layer = conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false });
    await runLayer(layer, [2, 6, 6, 3], true, 1);
    const before = tf.memory().numTensors;
    await runLayer(layer, [2, 6, 6, 3], true, 1);
    await runLayer(layer, [2, 6, 6, 3], false, 1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
