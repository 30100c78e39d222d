import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { fusedGelu, GELU, geluGradValues, geluValues } from '../../src/kernels/gelu.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { gelu } from '../../src/models/index.js';
import { expectClose, expectWithinOneUlp, randomValues } from './helpers.js';

/**
 * The fused GELU (wasm) against the stock expression x/2·(1 + erf(x/√2)) on the cpu backend:
 * output and input gradient for a random upstream gradient, as error relative to the
 * reference's largest value. Measured up to 6e-8 (values) and 1.1e-7 (gradients); allowed 1e-6.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

async function run(backend: string, values: Float32Array) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const x = tf.tensor1d(values);
  const dy = tf.tensor1d(randomValues(values.length, 9));
  const fused = tf.tidy(() => fusedGelu(x) !== null);
  const y = tf.tidy(() => gelu(x));
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), dy)))(x);
  const out = {
    y: (y.dataSync() as Float32Array).slice(),
    dx: (dx.dataSync() as Float32Array).slice(),
    fused,
  };
  tf.dispose([x, dy, y, dx]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('fused GELU', () => {
  it('is registered on wasm, not on cpu (which keeps the stock ops as the reference)', () => {
    expect(tf.getKernel(GELU, 'wasm')).toBeDefined();
    expect(tf.getKernel(GELU, 'cpu')).toBeUndefined();
  });

  it('matches the stock expression, values and gradient, from −8 to 8 and at 0', async () => {
    const values = Float32Array.from([
      ...randomValues(100_000, 3).map((v) => 8 * v),
      0,
      -0,
      1e-30,
      -1e-30,
      8,
      -8,
    ]);
    const reference = await run('cpu', values);
    const ours = await run('wasm', values);
    expect(reference.fused).toBe(false);
    expect(ours.fused).toBe(true);
    expectClose(ours.y, reference.y, 1e-6);
    expectClose(ours.dx, reference.dx, 1e-6);
  });

  it('gives NaN for NaN, and is the identity / zero far out', async () => {
    await tf.setBackend('wasm');
    const y = tf.tidy(() => fusedGelu(tf.tensor1d([NaN, 50, -50]))!.dataSync());
    expect(Number.isNaN(y[0])).toBe(true);
    expect(y[1]).toBe(50);
    expect(Math.abs(y[2]!)).toBe(0);
  });

  // The addon's loops (which the wasm kernels run when it loads) are the JS ones in C++: the same
  // double arithmetic in the same order, so they may differ only where the addon's exp (vexp.h's
  // exp4d with AVX2, else glibc's) and V8's Math.exp round a double differently, which the
  // float32 result almost never shows.
  it.skipIf(nativeKernels() === null)(
    'native loops: the JS loops to 1 float32 ulp (no addon: skipped)',
    () => {
      const native = nativeKernels()!;
      // Most in [-10, 10], the last 50k in [-40, 40]: the tails where φ(x) is a subnormal float.
      const x = Float32Array.from(
        randomValues(200_003, 5).map((v, i) => (i < 150_000 ? 10 : 40) * v),
      );
      x.set([0, -0, NaN, 1e-30, 50, -50], 0);
      const dy = randomValues(x.length, 6);
      const [jsY, nativeY, jsDx, nativeDx] = [0, 1, 2, 3].map(() => new Float32Array(x.length));
      geluValues(x, jsY!);
      native.gelu(x, nativeY!);
      geluGradValues(dy, x, jsDx!);
      native.geluGrad(dy, x, nativeDx!);
      // Nearly all bit for bit.
      expectWithinOneUlp(nativeY!, jsY!, x.length / 1000);
      expectWithinOneUlp(nativeDx!, jsDx!, x.length / 1000);
    },
  );
});
