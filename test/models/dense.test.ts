import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { DENSE, fusedDense } from '../../src/kernels/dense.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { buildMlp } from '../../src/models/index.js';
import { dense } from '../../src/models/dense.js';
import { AdamW } from '../../src/optimizers/index.js';
import { expectClose, randomValues } from '../kernels/helpers.js';

/**
 * The models' dense layer (one op with a one-pass gradient on wasm with the native addon) against
 * the stock tfjs-layers Dense: forward and gradients against the cpu backend within 1e-5
 * (float32, another summation order), and bit for bit against the stock layer on the same backend.
 */

const hasNative = nativeKernels() !== null;

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

interface Outcome {
  y: Float32Array;
  grads: Float32Array[];
}

function runLayer(
  layer: tf.layers.Layer,
  rows: number,
  inputs: number,
  units: number,
  seed: number,
): Outcome {
  const x = tf.tensor2d(randomValues(rows * inputs, seed), [rows, inputs]);
  const w = tf.tensor2d(randomValues(rows * units, seed + 1), [rows, units]);
  layer.build([rows, inputs]);
  layer.setWeights(
    layer.getWeights().map((t, i) => tf.tensor(randomValues(t.size, seed + 2 + i), t.shape)),
  );
  const xVar = tf.variable(x);
  const vars = [xVar, ...layer.trainableWeights.map((v) => v.read() as tf.Variable)];
  let y!: Float32Array;
  const { value, grads } = tf.variableGrads(() => {
    const out = layer.apply(xVar, { training: true }) as tf.Tensor;
    y = (out.dataSync() as Float32Array).slice();
    return out.mul(w).sum() as tf.Scalar;
  }, vars);
  const result = { y, grads: vars.map((v) => (grads[v.name]!.dataSync() as Float32Array).slice()) };
  tf.dispose([x, w, xVar, value, ...Object.values(grads)]);
  return result;
}

const cases = [
  { rows: 7, inputs: 13, units: 5, activation: 'relu' as const, useBias: true },
  { rows: 33, inputs: 70, units: 40, activation: 'linear' as const, useBias: true },
  { rows: 128, inputs: 300, units: 64, activation: 'relu' as const, useBias: false },
  { rows: 1, inputs: 4, units: 3, activation: 'linear' as const, useBias: false },
];

describe('dense (the models’ layer)', () => {
  it('has its kernel on wasm exactly when the native addon loads', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel(DENSE, 'wasm') !== undefined).toBe(hasNative);
    expect(tf.getKernel(DENSE, 'cpu')).toBeUndefined();
  });

  it.each(cases)(
    'matches the stock layer: $rows×$inputs → $units, $activation, bias $useBias',
    async ({ rows, inputs, units, activation, useBias }) => {
      const args = { units, activation, useBias };
      await tf.setBackend('cpu');
      const reference = runLayer(tf.layers.dense(args), rows, inputs, units, 5);
      await tf.setBackend('wasm');
      const stock = runLayer(tf.layers.dense(args), rows, inputs, units, 5);
      const ours = runLayer(dense(args), rows, inputs, units, 5);
      expectClose(ours.y, reference.y, 1e-5);
      expect(ours.grads.length).toBe(reference.grads.length);
      ours.grads.forEach((g, i) => expectClose(g, reference.grads[i]!, 1e-5));
      // The same arithmetic as the stock ops on this backend, so the same bits.
      expect(ours.y).toEqual(stock.y);
      ours.grads.forEach((g, i) => expect(g).toEqual(stock.grads[i]));
    },
  );

  it.runIf(hasNative)(
    'runs one kernel forward, and backward computes no gradient for an input that needs none',
    async () => {
      await tf.setBackend('wasm');
      const x = tf.randomNormal([16, 24]);
      const kernel = tf.variable(tf.randomNormal([24, 8]));
      const bias = tf.variable(tf.zeros([8]));
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(
          () => fusedDense(x, kernel, bias, 'relu')!.sum() as tf.Scalar,
          [kernel, bias],
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      const count = (name: string) => info.kernels.filter((k) => k.name === name).length;
      expect(count(DENSE)).toBe(1);
      expect(count('BatchMatMul')).toBe(1); // dW only: the input's gradient is never asked for
      expect(count('Relu') + count('Step') + count('Add')).toBe(0);
      tf.dispose([x, kernel, bias]);
    },
  );

  it('falls back to the stock ops for other ranks and activations', async () => {
    await tf.setBackend('wasm');
    const x3 = tf.ones([2, 3, 4]);
    const x2 = tf.ones([3, 4]);
    const w = tf.ones([4, 5]);
    expect(fusedDense(x3, w, null, 'relu')).toBeNull();
    expect(fusedDense(x2, w, null, 'tanh')).toBeNull();
    const layer = dense({ units: 5, activation: 'tanh' });
    const stock = tf.layers.dense({ units: 5, activation: 'tanh' });
    layer.build([3, 4]);
    stock.build([3, 4]);
    stock.setWeights(layer.getWeights());
    const [a, b] = [layer, stock].map((l) => l.apply(x3) as tf.Tensor);
    expect(a!.shape).toEqual([2, 3, 5]);
    expect(a!.dataSync()).toEqual(b!.dataSync());
    tf.dispose([x3, x2, w, a!, b!]);
  });

  it('serialises as the stock Dense layer', () => {
    const layer = dense({ units: 3, activation: 'relu', name: 'd' });
    expect(layer.getClassName()).toBe('Dense');
    expect(layer.getConfig()).toEqual(
      tf.layers.dense({ units: 3, activation: 'relu', name: 'd' }).getConfig(),
    );
  });

  it('trains an MLP bit for bit like the stock layers, with numTensors flat', async () => {
    await tf.setBackend('wasm');
    const ours = buildMlp({ inputShape: [20], hiddenUnits: [16, 12], numClasses: 4, seed: 3 });
    const input = tf.input({ shape: [20] });
    let h = tf.layers.dense({ units: 16, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 12, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    const stock = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor,
    });
    stock.setWeights(ours.getWeights());
    const x = tf.tensor2d(randomValues(32 * 20, 9), [32, 20]);
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 4),
        'int32',
      ),
      4,
    );
    const train = (model: tf.LayersModel) => {
      const optimizer = new AdamW({ learningRate: 1e-2, predictionSteps: 1 });
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const losses: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const cost = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar,
          true,
          variables,
        )!;
        losses.push(cost.dataSync()[0]!);
        cost.dispose();
        counts.push(tf.memory().numTensors);
      }
      // The first step creates the optimizer's slots; after that nothing may accumulate.
      expect(counts.slice(1)).toEqual(counts.slice(1).map(() => counts[1]));
      optimizer.dispose();
      return { losses, weights: model.getWeights().map((t) => t.dataSync()) };
    };
    const a = train(ours);
    const b = train(stock);
    expect(a.losses).toEqual(b.losses);
    a.weights.forEach((w, i) => expect(w).toEqual(b.weights[i]));
    tf.dispose([x, y]);
    ours.dispose();
    stock.dispose();
  });
});
