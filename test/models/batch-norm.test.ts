import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { hasFusedBatchNorm, movingAverageInto } from '../../src/kernels/batch-norm.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { batchNormalization } from '../../src/models/batch-norm.js';
import { expectClose, randomValues } from '../kernels/helpers.js';

/**
 * The models' batch-norm layer (one fused op on wasm with the native addon) against the stock
 * tfjs-layers layer on the cpu backend: training output, gradients of x, γ and β through the batch
 * statistics, and the moving averages, within 1e-4 (float32, different summation order; measured
 * up to 1.6e-7 of the reference's largest value).
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

interface Outcome {
  y: Float32Array;
  grads: Float32Array[];
  moving: Float32Array[];
}

function runLayer(layer: tf.layers.Layer, shape: number[], seed: number): Outcome {
  const channels = shape.at(-1)!;
  const x = tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b),
      seed,
    ),
    shape,
  );
  const w = tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b),
      seed + 1,
    ),
    shape,
  );
  layer.build(shape);
  layer.setWeights([
    tf.tensor1d(randomValues(channels, seed + 2).map((v) => 1 + 0.5 * v)),
    tf.tensor1d(randomValues(channels, seed + 3)),
    tf.tensor1d(randomValues(channels, seed + 4)),
    tf.tensor1d(randomValues(channels, seed + 5).map((v) => 1 + 0.5 * Math.abs(v))),
  ]);
  const xVar = tf.variable(x);
  const vars = [xVar, ...layer.trainableWeights.map((v) => v.read() as tf.Variable)];
  let y!: Float32Array;
  const { value, grads } = tf.variableGrads(() => {
    const out = layer.apply(xVar, { training: true }) as tf.Tensor;
    y = out.dataSync() as Float32Array;
    return out.mul(w).sum() as tf.Scalar;
  }, vars);
  const result = {
    y: y.slice(),
    grads: vars.map((v) => (grads[v.name]!.dataSync() as Float32Array).slice()),
    moving: layer
      .getWeights()
      .slice(2)
      .map((t) => (t.dataSync() as Float32Array).slice()),
  };
  tf.dispose([x, w, xVar, value, ...Object.values(grads)]);
  return result;
}

describe('batchNormalization (the models’ layer)', () => {
  it('has the fused kernels on wasm exactly when the native addon loads', async () => {
    await tf.setBackend('wasm');
    expect(hasFusedBatchNorm()).toBe(nativeKernels() !== null);
    await tf.setBackend('cpu');
    expect(hasFusedBatchNorm()).toBe(false);
  });

  it.each([[[4, 5, 3, 7]], [[2, 6, 6, 33]], [[13, 20]]])(
    'matches the stock layer on cpu in training: shape %j',
    async (shape) => {
      await tf.setBackend('cpu');
      const reference = runLayer(
        tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }),
        shape,
        11,
      );
      await tf.setBackend('wasm');
      const ours = runLayer(batchNormalization({ momentum: 0.9, epsilon: 1e-5 }), shape, 11);
      expectClose(ours.y, reference.y, 1e-4);
      for (let k = 0; k < reference.grads.length; k++) {
        expectClose(ours.grads[k]!, reference.grads[k]!, 1e-4);
      }
      for (let k = 0; k < 2; k++) expectClose(ours.moving[k]!, reference.moving[k]!, 1e-5);
    },
  );

  it('keeps numTensors flat over repeated training steps and uses the moving stats in inference', async () => {
    await tf.setBackend('wasm');
    const layer = batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
    const x = tf.randomNormal([3, 4, 4, 5], 0, 1, 'float32', 3);
    layer.apply(x, { training: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(
          () => (layer.apply(x, { training: true }) as tf.Tensor).square().sum() as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    // Inference normalises with the moving statistics (the stock path).
    const [gamma, beta, mean, variance] = layer.getWeights();
    const expected = tf.tidy(() =>
      x.sub(mean!).div(variance!.add(1e-5).sqrt()).mul(gamma!).add(beta!),
    );
    expectClose(
      (layer.apply(x, { training: false }) as tf.Tensor).dataSync() as Float32Array,
      expected.dataSync() as Float32Array,
      1e-5,
    );
    tf.dispose([x, expected]);
  });

  it('advances the moving averages as the stock layer’s sub, mul and sub kernels do, bit for bit', async () => {
    await tf.setBackend('cpu');
    const moving = randomValues(1000, 21);
    const batch = randomValues(1000, 22).map((v) => 3 * v);
    moving[0] = NaN;
    batch[1] = NaN;
    for (const momentum of [0.9, 0.99, 0.1]) {
      const expected = tf.tidy(() => {
        const m = tf.tensor1d(moving);
        return tf.sub(m, tf.mul(tf.sub(m, tf.tensor1d(batch)), 1 - momentum)).dataSync();
      });
      const ours = new Float32Array(1000);
      movingAverageInto(moving, batch, momentum, ours);
      for (let i = 0; i < 1000; i++) expect(Object.is(ours[i], expected[i]), `at ${i}`).toBe(true);
    }
  });

  it.skipIf(nativeKernels() === null)(
    'propagates NaN like the stock layer, and leaks nothing when only x’s gradient is taken',
    async () => {
      await tf.setBackend('wasm');
      const layer = batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
      const values = randomValues(2 * 3 * 3 * 4, 5);
      values[6] = NaN; // channel 2
      const x = tf.tensor4d(values, [2, 3, 3, 4]);
      layer.apply(x, { training: true });
      const before = tf.memory().numTensors;
      const dx = tf.grad((a: tf.Tensor) =>
        (layer.apply(a, { training: true }) as tf.Tensor).square().sum(),
      )(x);
      const y = tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
      const grad = dx.dataSync();
      dx.dispose();
      expect(tf.memory().numTensors).toBe(before);
      for (let i = 0; i < values.length; i++) {
        // Channel 2's statistics are NaN, so are its outputs; the other channels are finite.
        expect(Number.isNaN(y[i]!), `y at ${i}`).toBe(i % 4 === 2);
      }
      // The loss is NaN, and so is every gradient that its NaN statistics reach.
      expect(grad.some((v) => Number.isNaN(v))).toBe(true);
      const [, , mean, variance] = layer.getWeights();
      expect(Number.isNaN(mean!.dataSync()[2]!)).toBe(true);
      expect(Number.isNaN(variance!.dataSync()[2]!)).toBe(true);
      expect(Number.isFinite(mean!.dataSync()[1]!)).toBe(true);
      x.dispose();
    },
  );
});
