import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import {
  fusedLayerNorm,
  LAYER_NORM,
  layerNormGradRows,
  layerNormRows,
} from '../../src/kernels/layer-norm.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { layerNorm } from '../../src/models/index.js';
import { expectClose, randomValues } from './helpers.js';

/**
 * The fused layer norm (wasm) against the stock ops (tf.moments, …) on the cpu backend: output and
 * the gradients of x, gamma and beta for a random upstream gradient, as error relative to the
 * reference's largest value. Measured up to 1.0e-7 (values) and 1.9e-7 (gradients); allowed 1e-6.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

const EPS = 1e-5;

interface Result {
  y: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  fused: boolean;
}

async function run(backend: string, shape: number[], seed: number): Promise<Result> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const n = shape.reduce((a, b) => a * b, 1);
  const cols = shape.at(-1)!;
  // Rows with an offset and a scale, so the mean and the variance both matter.
  const xv = randomValues(n, seed).map((v, i) => 3 * v + (Math.floor(i / cols) % 5) - 2);
  const x = tf.tensor(xv, shape);
  const gamma = tf.tensor1d(randomValues(cols, seed + 1).map((v) => 1 + v));
  const beta = tf.tensor1d(randomValues(cols, seed + 2));
  const dy = tf.tensor(randomValues(n, seed + 3), shape);
  const fused = tf.tidy(() => {
    const f = fusedLayerNorm(x, gamma, beta, EPS);
    return f !== null;
  });
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.mul(layerNorm(a, g, b, EPS), dy);
  const y = tf.tidy(() => layerNorm(x, gamma, beta, EPS));
  const [dx, dgamma, dbeta] = tf.grads((a, g, b) => tf.sum(f(a, g, b)))([x, gamma, beta]);
  const out = {
    y: (y.dataSync() as Float32Array).slice(),
    dx: (dx!.dataSync() as Float32Array).slice(),
    dgamma: (dgamma!.dataSync() as Float32Array).slice(),
    dbeta: (dbeta!.dataSync() as Float32Array).slice(),
    fused,
  };
  tf.dispose([x, gamma, beta, dy, y, dx!, dgamma!, dbeta!]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('fused layer norm', () => {
  it('is registered on wasm and not on cpu (which keeps the stock ops as the reference)', () => {
    expect(tf.getKernel(LAYER_NORM, 'wasm')).toBeDefined();
    expect(tf.getKernel(LAYER_NORM, 'cpu')).toBeUndefined();
  });

  it.each([[[1, 1]], [[3, 7]], [[1024, 128]], [[2, 5, 16]]])(
    'matches the stock ops, values and gradients: shape %j',
    async (shape) => {
      const reference = await run('cpu', shape, 11);
      const ours = await run('wasm', shape, 11);
      expect(reference.fused).toBe(false);
      expect(ours.fused).toBe(true);
      expectClose(ours.y, reference.y, 1e-6);
      expectClose(ours.dx, reference.dx, 1e-6);
      expectClose(ours.dgamma, reference.dgamma, 1e-6);
      expectClose(ours.dbeta, reference.dbeta, 1e-6);
    },
  );

  it('falls back to the stock ops where it does not apply', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.ones([2, 4]);
      expect(fusedLayerNorm(x, tf.ones([3]), tf.zeros([3]), EPS)).toBeNull();
      expect(fusedLayerNorm(x, tf.ones([2, 2]), tf.zeros([4]), EPS)).toBeNull();
      expect(fusedLayerNorm(tf.ones([2, 4], 'int32'), tf.ones([4]), tf.zeros([4]), EPS)).toBeNull();
    });
  });

  it('a constant row normalizes to beta, without NaN', async () => {
    await tf.setBackend('wasm');
    const y = tf.tidy(() =>
      fusedLayerNorm(tf.fill([2, 6], 3.5), tf.ones([6]), tf.fill([6], 0.25), EPS)!,
    );
    expect(Array.from(y.dataSync())).toEqual(new Array(12).fill(0.25));
    y.dispose();
  });

  // The addon's loops (which the wasm kernels run when it loads) are the JS ones in C++: the same
  // double operations in the same order, so the same float32 values for any thread count (rows
  // split across threads; dgamma and dbeta summed over the rows in order).
  it.skipIf(nativeKernels() === null)('native loops: the JS loops, value for value', () => {
    const native = nativeKernels()!;
    // 1100 columns: two chunks of the column sums (512 each) and a partial one.
    for (const [rows, cols] of [
      [300, 128],
      [7, 1100],
      [1, 1],
    ] as const) {
      const n = rows * cols;
      const x = randomValues(n, 21).map((v, i) => 4 * v + (i % cols === 0 ? 50 : 0));
      const dy = randomValues(n, 22);
      const gamma = randomValues(cols, 23);
      const beta = randomValues(cols, 24);
      const outputs = () => ({
        y: new Float32Array(n),
        mean: new Float32Array(rows),
        rstd: new Float32Array(rows),
        dx: new Float32Array(n),
        dgamma: new Float32Array(cols),
        dbeta: new Float32Array(cols),
      });
      const js = outputs();
      layerNormRows(x, gamma, beta, js.y, js.mean, js.rstd, rows, cols, EPS);
      layerNormGradRows(dy, x, gamma, js.mean, js.rstd, js.dx, js.dgamma, js.dbeta, rows, cols);
      const threads = native.threads();
      try {
        for (const t of [1, 2]) {
          native.setThreads(t);
          const ours = outputs();
          native.layerNorm(x, gamma, beta, ours.y, ours.mean, ours.rstd, rows, cols, EPS);
          native.layerNormGrad(
            dy,
            x,
            gamma,
            ours.mean,
            ours.rstd,
            ours.dx,
            ours.dgamma,
            ours.dbeta,
            rows,
            cols,
          );
          expect(ours, `${rows}×${cols}, ${t} threads`).toEqual(js);
        }
      } finally {
        native.setThreads(threads);
      }
    }
  });
});
