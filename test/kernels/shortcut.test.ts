import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import {
  SUBSAMPLE_PAD,
  subsamplePad,
  subsamplePadGradInto,
  subsamplePadInto,
  subsamplePadShape,
} from '../../src/kernels/shortcut.js';
import { ZeroPadShortcut } from '../../src/models/layers.js';
import { randomValues } from './helpers.js';

/**
 * The one-kernel option-A shortcut (wasm) against the layer's stock pad/reshape/slice ops on the
 * cpu backend: values and input gradients. Both are copies and zeros, so they must agree bit for
 * bit (tolerance 0), NaN included.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

const CASES: [number[], number, number][] = [
  [[3, 8, 8, 4], 2, 8],
  [[2, 7, 5, 3], 2, 6], // odd sizes: the last row and column are sampled, nothing padded in
  [[2, 7, 9, 2], 3, 2], // no channel padding
  [[2, 4, 3, 3], 1, 5], // stride 1: channel padding only
];

async function run(backend: string, shape: number[], strides: number, filters: number) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const size = shape.reduce((p, d) => p * d, 1);
  const values = randomValues(size, 3);
  values[1] = NaN;
  values[size - 1] = NaN;
  const layer = new ZeroPadShortcut({ strides, filters });
  const x = tf.tensor4d(values, shape as [number, number, number, number]);
  const outShape = subsamplePadShape(shape, strides, filters);
  const dyValues = randomValues(
    outShape.reduce((p, d) => p * d, 1),
    4,
  );
  dyValues[0] = NaN;
  const dy = tf.tensor(dyValues, outShape);
  const fused = tf.tidy(() => subsamplePad(x, strides, filters) !== null);
  const y = tf.tidy(() => layer.apply(x) as tf.Tensor);
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, dy)))(x);
  const out = {
    y: (y.dataSync() as Float32Array).slice(),
    yShape: y.shape,
    dx: (dx.dataSync() as Float32Array).slice(),
    fused,
  };
  tf.dispose([x, dy, y, dx]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

/** Bit for bit, NaN as NaN. */
function expectSame(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      expect(`${i}: ${actual[i]}`).toBe(`${i}: ${expected[i]}`);
    }
  }
}

describe('one-kernel ZeroPadShortcut', () => {
  it('is registered on wasm, not on cpu (which keeps the stock ops as the reference)', () => {
    expect(tf.getKernel(SUBSAMPLE_PAD, 'wasm')).toBeDefined();
    expect(tf.getKernel(SUBSAMPLE_PAD, 'cpu')).toBeUndefined();
  });

  it.each(CASES)(
    'gives the stock ops’ values and gradient bit for bit: %j, stride %i, %i filters',
    async (shape, strides, filters) => {
      const reference = await run('cpu', shape, strides, filters);
      const ours = await run('wasm', shape, strides, filters);
      expect(reference.fused).toBe(false);
      expect(ours.fused).toBe(true);
      expect(ours.yShape).toEqual(reference.yShape);
      expectSame(ours.y, reference.y);
      expectSame(ours.dx, reference.dx);
      // NaN in x reaches y only where sampled; NaN in dy reaches dx where sampled.
      expect(Number.isNaN(ours.dx[0]!)).toBe(true);
    },
  );

  it('refuses fewer filters than channels and a stride below 1', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => subsamplePad(x, 2, 2)).toThrow(/at least 3 filters/);
    expect(() => subsamplePad(x, 0, 4)).toThrow(/positive integer stride/);
    x.dispose();
  });

  it.skipIf(nativeKernels() === null)(
    'native loops: the JS loops bit for bit (no addon: skipped)',
    () => {
      const native = nativeKernels()!;
      for (const [shape, s, filters] of [...CASES, [[64, 28, 28, 16], 2, 32]] as [
        number[],
        number,
        number,
      ][]) {
        const [b, h, w, c] = shape as [number, number, number, number];
        const x = randomValues(b * h * w * c, 7);
        x[5] = NaN;
        const outSize = subsamplePadShape(shape, s, filters).reduce((p, d) => p * d, 1);
        const dy = randomValues(outSize, 8);
        // Garbage in the outputs: both must overwrite every element.
        const [jsY, nativeY] = [0, 1].map(() => new Float32Array(outSize).fill(7));
        const [jsDx, nativeDx] = [0, 1].map(() => new Float32Array(x.length).fill(7));
        subsamplePadInto(x, jsY!, shape, s, filters);
        native.subsamplePad(x, nativeY!, b, h, w, c, s, filters);
        subsamplePadGradInto(dy, jsDx!, shape, s, filters);
        native.subsamplePadGrad(dy, nativeDx!, b, h, w, c, s, filters);
        expectSame(nativeY!, jsY!);
        expectSame(nativeDx!, jsDx!);
      }
      const [four, eight] = [new Float32Array(4), new Float32Array(8)];
      expect(() => native.subsamplePad(four, eight, 1, 2, 2, 2, 2, 2)).toThrow(
        /has 4 floats, needs 8/,
      );
      expect(() => native.subsamplePad(eight, eight, 1, 2, 2, 2, 2, 1)).toThrow(/filters at least/);
      expect(() => native.subsamplePadGrad(eight, eight, 1, 2, 2, 2, 0, 2)).toThrow(
        /stride of at least 1/,
      );
    },
  );
});
