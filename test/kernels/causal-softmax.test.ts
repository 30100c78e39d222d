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
import { expectClose, expectWithinOneUlp, randomValues } from './helpers.js';

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

  // The addon's loops are the JS ones in C++: the same float32 scaling and double arithmetic in
  // the same order, differing only where glibc's exp and V8's Math.exp round a double differently.
  it.skipIf(nativeKernels() === null)(
    'native loops: the JS loops to 1 float32 ulp (no addon: skipped)',
    () => {
      const native = nativeKernels()!;
      const [matrices, t, scale] = [6, 67, 1 / Math.sqrt(24)];
      const n = matrices * t * t;
      const x = randomValues(n, 31).map((v) => 12 * v);
      x[t * 5 + 2] = NaN; // a NaN in row 5 of the first matrix
      const dy = randomValues(n, 32);
      const [jsY, nY, jsDx, nDx] = [0, 1, 2, 3].map(() => new Float32Array(n));
      causalSoftmaxRows(x, jsY!, matrices, t, scale);
      native.causalSoftmax(x, nY!, matrices, t, scale);
      causalSoftmaxGradRows(dy, jsY!, jsDx!, matrices, t, scale);
      native.causalSoftmaxGrad(dy, jsY!, nDx!, matrices, t, scale);
      expectWithinOneUlp(nY!, jsY!, n / 1000);
      expectWithinOneUlp(nDx!, jsDx!, n / 1000);
      expect(Number.isNaN(nY![t * 5])).toBe(true);
    },
  );
});
