import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import {
  CAUSAL_SOFTMAX,
  causalSoftmax,
  causalSoftmaxGradRows,
  causalSoftmaxRows,
} from '../../src/kernels/causal-softmax.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { causalMask } from '../../src/models/index.js';
import { expectClose, randomValues } from './helpers.js';

/**
 * The fused causal softmax (wasm) against the stock path the Transformer otherwise takes
 * (softmax(scale·x + causalMask)) on the cpu backend: output and input gradient for a random
 * upstream gradient, as error relative to the reference's largest value. Measured up to 6e-8
 * (values) and 1.6e-7 (gradients); allowed 1e-6.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

function stock(x: tf.Tensor, scale: number): tf.Tensor {
  return tf.softmax(tf.add(tf.mul(x, scale), causalMask(x.shape.at(-1)!)));
}

async function run(backend: string, shape: number[], scale: number, seed: number) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const n = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(
    randomValues(n, seed).map((v) => 6 * v),
    shape,
  );
  const dy = tf.tensor(randomValues(n, seed + 1), shape);
  const op = (a: tf.Tensor) => causalSoftmax(a, scale) ?? stock(a, scale);
  const fused = tf.tidy(() => causalSoftmax(x, scale) !== null);
  const y = tf.tidy(() => op(x));
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(op(a), dy)))(x);
  const out = {
    y: (y.dataSync() as Float32Array).slice(),
    dx: (dx.dataSync() as Float32Array).slice(),
    fused,
  };
  tf.dispose([x, dy, y, dx]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('fused causal softmax', () => {
  it('is registered on wasm, not on cpu (which keeps the stock ops as the reference)', () => {
    expect(tf.getKernel(CAUSAL_SOFTMAX, 'wasm')).toBeDefined();
    expect(tf.getKernel(CAUSAL_SOFTMAX, 'cpu')).toBeUndefined();
  });

  it.each([
    [[1, 1], 1],
    [[3, 3], 0.5],
    [[2, 3, 7, 7], 1 / Math.sqrt(8)],
    [[2, 4, 128, 128], 1 / Math.sqrt(32)],
  ])('matches the stock path, values and gradient: shape %j, scale %d', async (shape, scale) => {
    const reference = await run('cpu', shape, scale, 5);
    const ours = await run('wasm', shape, scale, 5);
    expect(reference.fused).toBe(false);
    expect(ours.fused).toBe(true);
    expectClose(ours.y, reference.y, 1e-6);
    expectClose(ours.dx, reference.dx, 1e-6);
    // Above the diagonal: exactly 0, as the stock path.
    const t = shape.at(-1)!;
    for (let k = 0; k < ours.y.length; k++) {
      const [i, j] = [Math.floor(k / t) % t, k % t];
      if (j > i) expect(ours.y[k]).toBe(0);
    }
  });

  it('falls back where it does not apply', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      expect(causalSoftmax(tf.ones([2, 3]), 1)).toBeNull();
      expect(causalSoftmax(tf.ones([4]), 1)).toBeNull();
      expect(causalSoftmax(tf.ones([2, 2], 'int32'), 1)).toBeNull();
    });
  });

  // The addon's loops (which the wasm kernels run when it loads) are the JS ones in C++, in double:
  // they may differ only where a double rounds differently (4-lane sums, another exp), which the
  // float32 result almost never shows. Rows with NaN and ±Inf scores give NaN rows, as in JS.
  it.skipIf(nativeKernels() === null)(
    'native loops: the JS loops to 1 float32 ulp (no addon: skipped)',
    () => {
      const native = nativeKernels()!;
      const [matrices, t, scale] = [13, 37, 1 / Math.sqrt(8)];
      const x = randomValues(matrices * t * t, 11).map((v) => 30 * v);
      x[5 * t + 2] = NaN;
      x[(t + 9) * t + 4] = Infinity;
      x[(2 * t + 20) * t + 20] = -Infinity;
      const dy = randomValues(x.length, 12);
      const [jsY, nativeY, jsDx, nativeDx] = [0, 1, 2, 3].map(() => new Float32Array(x.length));
      causalSoftmaxRows(x, jsY!, matrices, t, scale);
      native.causalSoftmax(x, nativeY!, matrices, t, scale);
      causalSoftmaxGradRows(dy, jsY!, jsDx!, matrices, t, scale);
      native.causalSoftmaxGrad(dy, jsY!, nativeDx!, matrices, t, scale);
      expect(Number.isNaN(nativeY![5 * t + 0])).toBe(true);
      expect(Number.isNaN(nativeY![(t + 9) * t + 0])).toBe(true);
      let differing = 0;
      for (const [a, b] of [
        [jsY!, nativeY!],
        [jsDx!, nativeDx!],
      ] as const) {
        for (let i = 0; i < a.length; i++) {
          if (Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
          differing++;
          const ulp = Math.max(Math.abs(a[i]!), 1e-38) * 2 ** -23;
          expect(Math.abs(a[i]! - b[i]!), `at ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(ulp);
        }
      }
      expect(differing).toBeLessThan(x.length / 1000);
    },
  );
});
