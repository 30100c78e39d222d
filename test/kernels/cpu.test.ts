import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerCpuTrainingKernels } from '../../src/kernels/index.js';
import { RELU_GRAD } from '../../src/kernels/relu-grad.js';
import { expectClose, randomValues, rng } from './helpers.js';

const NAMES = ['Conv2DBackpropFilter', 'UnsortedSegmentSum'];
let stock: tf.KernelConfig[] = [];
let ours: tf.KernelConfig[] = [];

function use(configs: tf.KernelConfig[]): void {
  for (const c of configs) {
    tf.unregisterKernel(c.kernelName, 'cpu');
    tf.registerKernel(c);
  }
}

/** Runs `fn` with the stock cpu kernels (reference) and with ours; compares, checks leaks. */
function compare(fn: () => tf.Tensor, tol = 1e-4): void {
  const run = (configs: tf.KernelConfig[]) => {
    use(configs);
    const before = tf.memory().numTensors;
    const t = tf.tidy(fn);
    const out = { values: t.dataSync().slice(), shape: t.shape };
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    return out;
  };
  const reference = run(stock);
  const actual = run(ours);
  expect(actual.shape).toEqual(reference.shape);
  expectClose(actual.values, reference.values, tol);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  stock = NAMES.map((n) => tf.getKernel(n, 'cpu')!);
  registerCpuTrainingKernels();
  registerCpuTrainingKernels(); // idempotent
  ours = NAMES.map((n) => tf.getKernel(n, 'cpu')!);
  expect(ours.map((c) => c.kernelFunc)).not.toEqual(stock.map((c) => c.kernelFunc));
});

describe('cpu training kernels', () => {
  it('relu gradient equals the stock dy · step(x) bit for bit (NaN, ±0, ±∞, negative dy)', () => {
    const xv = randomValues(6 * 50, 81);
    const dyv = randomValues(xv.length, 82);
    xv.set([NaN, -0, 0, Infinity, -Infinity, 1e-30, -1e-30, 0, NaN]);
    dyv.set([-1, -2, -3, NaN, -4, -5, -6, NaN, NaN]);
    const grad = () => {
      const before = tf.memory().numTensors;
      const out = tf.tidy(() =>
        tf
          .grad((t: tf.Tensor) =>
            tf
              .relu(t)
              .mul(tf.tensor2d(dyv, [6, 50]))
              .sum(),
          )(tf.tensor2d(xv, [6, 50]))
          .dataSync()
          .slice(),
      );
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const kernel = tf.getKernel(RELU_GRAD, 'cpu')!;
    expect(kernel).toBeDefined();
    tf.unregisterKernel(RELU_GRAD, 'cpu');
    const reference = grad(); // the stock gradient: the override falls back to it
    tf.registerKernel(kernel);
    const actual = grad();
    expect(Array.from(actual).every((v, i) => Object.is(v, reference[i]))).toBe(true);
    expect(Object.is(reference[1], -0)).toBe(true);
  });

  it.each([
    { x: [2, 7, 6, 3], f: [3, 3, 3, 5], stride: 1, pad: 'same' as const },
    { x: [3, 7, 9, 4], f: [3, 3, 4, 6], stride: 2, pad: 'same' as const },
    { x: [1, 8, 8, 5], f: [3, 2, 5, 4], stride: 1, pad: 'valid' as const },
    { x: [2, 9, 7, 3], f: [1, 1, 3, 7], stride: 2, pad: 'valid' as const },
  ])('conv2d filter gradient matches the stock kernel: $x $f $stride $pad', (c) => {
    const xv = randomValues(
      c.x.reduce((a, b) => a * b),
      3,
      true,
    );
    const fv = randomValues(
      c.f.reduce((a, b) => a * b),
      4,
    );
    const conv = (a: tf.Tensor, b: tf.Tensor) =>
      tf
        .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad)
        .square()
        .sum();
    compare(
      () =>
        tf.grads(conv)([
          tf.tensor4d(xv, c.x as [number, number, number, number]),
          tf.tensor4d(fv, c.f as [number, number, number, number]),
        ])[1]!,
    );
  });

  it('unsortedSegmentSum matches the stock kernel with repeated, missing and out-of-range ids', () => {
    const next = rng(5);
    const n = 19;
    const ids = Int32Array.from({ length: n }, () => Math.floor(next() * 9) - 1);
    const xv = randomValues(n * 4, 6);
    compare(() => tf.unsortedSegmentSum(tf.tensor2d(xv, [n, 4]), tf.tensor1d(ids, 'int32'), 6));
    const xi = Int32Array.from(xv, (v) => Math.round(v * 50));
    compare(() =>
      tf.unsortedSegmentSum(tf.tensor1d(xi.subarray(0, n), 'int32'), tf.tensor1d(ids, 'int32'), 8),
    );
  });

  it('gather gradient (embedding backward) matches the stock kernels', () => {
    const table = randomValues(11 * 3, 8);
    const idx = Int32Array.from([1, 4, 4, 10, 0, 4]);
    compare(() =>
      tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(idx, 'int32')).square().sum())(
        tf.tensor2d(table, [11, 3]),
      ),
    );
  });
});
