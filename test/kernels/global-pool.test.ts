import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import {
  SPATIAL_MEAN,
  spatialMean,
  spatialMeanGradInto,
  spatialMeanInto,
} from '../../src/kernels/global-pool.js';
import { globalAveragePooling2d } from '../../src/models/layers.js';
import { expectClose, randomValues } from './helpers.js';

/**
 * The one-kernel global average pooling (wasm) against the stock layer's mean(x, [1, 2]) on the
 * cpu backend. Values: float64 sums against the stock float32 ones, within 1e-6 of the largest
 * (measured up to 5.5e-8); the gradient, dy / n each way, bit for bit. NaN propagates per channel.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

const SHAPES = [
  [3, 7, 7, 5],
  [2, 1, 9, 4],
  [64, 7, 7, 64],
];

async function run(backend: string, shape: number[]) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const values = randomValues(
    shape.reduce((p, d) => p * d, 1),
    3,
  );
  values[2] = NaN; // image 0, channel 2
  const x = tf.tensor4d(values, shape as [number, number, number, number]);
  const layer = globalAveragePooling2d({});
  const dyValues = randomValues(shape[0]! * shape[3]!, 4);
  dyValues[shape[3]!] = NaN; // image 1, channel 0
  const dy = tf.tensor2d(dyValues, [shape[0]!, shape[3]!]);
  const fused = tf.tidy(() => spatialMean(x) !== null);
  const y = tf.tidy(() => layer.apply(x) as tf.Tensor);
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, dy)))(x);
  const out = {
    y: (y.dataSync() as Float32Array).slice(),
    dx: (dx.dataSync() as Float32Array).slice(),
    fused,
  };
  tf.dispose([x, dy, y, dx]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('one-kernel global average pooling', () => {
  it('is registered on wasm, not on cpu (which keeps the stock op as the reference)', () => {
    expect(tf.getKernel(SPATIAL_MEAN, 'wasm')).toBeDefined();
    expect(tf.getKernel(SPATIAL_MEAN, 'cpu')).toBeUndefined();
  });

  it.each(SHAPES)(
    'matches the stock layer, values and gradient: [%i, %i, %i, %i]',
    async (...shape) => {
      const reference = await run('cpu', shape);
      const ours = await run('wasm', shape);
      expect(reference.fused).toBe(false);
      expect(ours.fused).toBe(true);
      const c = shape[3]!;
      const n = shape[1]! * shape[2]!;
      // NaN: y[0, 2] only; dx of image 1, channel 0 only.
      for (let i = 0; i < ours.y.length; i++) {
        expect(Number.isNaN(ours.y[i]!), `y at ${i}`).toBe(i === 2);
        expect(Number.isNaN(reference.y[i]!)).toBe(i === 2);
      }
      const finite = (v: Float32Array) => v.map((e) => (Number.isNaN(e) ? 0 : e));
      expectClose(finite(ours.y), finite(reference.y), 1e-6);
      const wrong: string[] = [];
      for (let i = 0; i < ours.dx.length; i++) {
        const nan = Math.floor(i / (n * c)) === 1 && i % c === 0;
        const ok = nan ? Number.isNaN(ours.dx[i]!) : Object.is(ours.dx[i], reference.dx[i]);
        if (!ok) wrong.push(`${i}: ${ours.dx[i]} vs ${reference.dx[i]}`);
      }
      expect(wrong.slice(0, 5)).toEqual([]);
    },
  );

  it.skipIf(nativeKernels() === null)(
    'native forward: the JS loop bit for bit (no addon: skipped)',
    async () => {
      await tf.setBackend('wasm');
      const shape = [64, 7, 7, 64];
      const values = randomValues(64 * 49 * 64, 9);
      const x = tf.tensor4d(values, shape as [number, number, number, number]);
      const native = tf.tidy(() => spatialMean(x)!.dataSync());
      const js = new Float32Array(64 * 64);
      spatialMeanInto(values, js, shape);
      for (let i = 0; i < js.length; i++) expect(native[i]).toBe(js[i]);
      x.dispose();
    },
  );

  it('gradient loop writes every element', () => {
    const dx = new Float32Array(2 * 3 * 2 * 4).fill(NaN);
    spatialMeanGradInto(new Float32Array(8).fill(6), dx, [2, 3, 2, 4]);
    expect([...dx]).toEqual(new Array(48).fill(1));
  });
});
