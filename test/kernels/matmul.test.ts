import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { matMulTransposedB } from '../../src/kernels/matmul.js';
import { expectClose, randomValues } from './helpers.js';

/**
 * a · bᵀ (the attention scores, the tied output projection): on wasm with this package's kernels
 * one BatchMatMul with transposeB (no Transpose op in the graph), on cpu the explicit transpose
 * as before; values and both gradients agree with the stock product of an explicit transpose on
 * the cpu backend within 1e-5 (sums in another order), memory flat.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

describe('matMulTransposedB', () => {
  it.each([
    [
      [5, 7],
      [9, 7],
    ],
    [
      [2, 3, 4, 5],
      [2, 3, 6, 5],
    ],
    [
      [64, 128],
      [300, 128],
    ],
  ])('a %j · bᵀ, b %j: the stock product, values and gradients', async (aShape, bShape) => {
    const rank = bShape.length;
    const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
    const outShape = [...aShape.slice(0, -1), bShape.at(-2)!];
    const [aValues, bValues, wValues] = [aShape, bShape, outShape].map((s, i) =>
      randomValues(size(s), i + 1),
    );
    const run = async (backend: string, ours: boolean) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const product = (x: tf.Tensor, y: tf.Tensor) =>
        ours ? matMulTransposedB(x, y) : tf.matMul(x, tf.transpose(y, perm));
      const [a, b, w] = [
        tf.tensor(aValues!, aShape),
        tf.tensor(bValues!, bShape),
        tf.tensor(wValues!, outShape),
      ];
      const profile = await tf.profile(() => tf.tidy(() => void product(a, b)));
      const y = tf.tidy(() => product(a, b));
      const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(product(x, z), w)))([
        a,
        b,
      ]);
      const out = {
        y: (await y.data()) as Float32Array,
        shape: y.shape,
        da: (await da!.data()) as Float32Array,
        db: (await db!.data()) as Float32Array,
        kernels: profile.kernels.map((k) => k.name),
      };
      tf.dispose([a, b, w, y, da!, db!]);
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const reference = await run('cpu', false);
    const cpu = await run('cpu', true);
    const wasm = await run('wasm', true);
    expect(cpu.kernels).toContain('Transpose');
    expect(wasm.kernels).toEqual(['BatchMatMul']);
    for (const ours of [cpu, wasm]) {
      expect(ours.shape).toEqual(outShape);
      expectClose(ours.y, reference.y, 1e-5);
      expectClose(ours.da, reference.da, 1e-5);
      expectClose(ours.db, reference.db, 1e-5);
    }
  });
});
