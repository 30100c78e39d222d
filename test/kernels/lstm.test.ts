import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import {
  LSTM_SEQUENCE,
  LSTM_SEQUENCE_GRAD,
  lstmSequence,
  lstmSequenceOps,
} from '../../src/kernels/lstm.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { expectClose, randomValues } from './helpers.js';

/**
 * The LSTM recurrence as two native kernels (wasm with the addon) against the stock ops step by
 * step on the cpu backend: the output and the gradients of all four inputs under a random
 * weighting of the output, within 2e-6 of each array's scale (float32 with another exp and tanh,
 * over up to 35 steps: measured worst 5e-7 on these cases, 7e-7 at 128 units), NaN where the stock path gives NaN, memory flat.
 */

const native = nativeKernels() !== null;

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

interface Case {
  b: number;
  t: number;
  h: number;
}

interface Result {
  out: Float32Array;
  grads: Float32Array[];
}

function inputs({ b, t, h }: Case, seed: number) {
  return {
    projected: randomValues(b * t * 4 * h, seed).map((v) => 3 * v),
    h0: randomValues(b * h, seed + 1),
    c0: randomValues(b * h, seed + 2).map((v) => 2 * v),
    recurrent: randomValues(h * 4 * h, seed + 3).map((v) => v / Math.sqrt(h)),
    weights: randomValues(b * (t + 1) * h, seed + 4),
  };
}

async function run(
  backend: string,
  c: Case,
  data: ReturnType<typeof inputs>,
  f: typeof lstmSequence,
): Promise<Result> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const { b, t, h } = c;
  const xs = [
    tf.tensor3d(data.projected, [b, t, 4 * h]),
    tf.tensor2d(data.h0, [b, h]),
    tf.tensor2d(data.c0, [b, h]),
    tf.tensor2d(data.recurrent, [h, 4 * h]),
  ] as const;
  const w = tf.tensor3d(data.weights, [b, t + 1, h]);
  const out = tf.tidy(() => f(...xs));
  const grads = tf.grads((p, h0, c0, u) =>
    tf.sum(tf.mul(f(p as tf.Tensor3D, h0 as tf.Tensor2D, c0 as tf.Tensor2D, u as tf.Tensor2D), w)),
  )([...xs]);
  const result = {
    out: out.dataSync() as Float32Array,
    grads: grads.map((g) => g.dataSync() as Float32Array),
  };
  tf.dispose([...xs, w, out, ...grads]);
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

describe('lstmSequence', () => {
  it('registers its native kernels on wasm when the addon is present', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel(LSTM_SEQUENCE, 'wasm') !== undefined).toBe(native);
    expect(tf.getKernel(LSTM_SEQUENCE_GRAD, 'wasm') !== undefined).toBe(native);
  });

  it.each([
    { b: 1, t: 1, h: 1 },
    { b: 3, t: 5, h: 4 },
    { b: 2, t: 7, h: 13 },
    { b: 20, t: 35, h: 32 },
  ])('matches the stock ops, values and gradients: %o', async (c) => {
    const data = inputs(c, c.b * 100 + c.t * 10 + c.h);
    const reference = await run('cpu', c, data, lstmSequenceOps);
    const ours = await run('wasm', c, data, lstmSequence);
    expectClose(ours.out, reference.out, 2e-6);
    expect(ours.grads).toHaveLength(4);
    ours.grads.forEach((g, i) => expectClose(g, reference.grads[i]!, 2e-6));
  });

  it('gives the same bits run after run', async () => {
    const c = { b: 20, t: 35, h: 32 };
    const data = inputs(c, 3);
    const first = await run('wasm', c, data, lstmSequence);
    const second = await run('wasm', c, data, lstmSequence);
    expect(second.out).toEqual(first.out);
    second.grads.forEach((g, i) => expect(g).toEqual(first.grads[i]));
  });

  it('propagates NaN where the stock ops do', async () => {
    const c = { b: 2, t: 3, h: 2 };
    const data = inputs(c, 7);
    data.projected[4 * 2 * 3 + 1] = NaN; // the second row, its first step
    const reference = await run('cpu', c, data, lstmSequenceOps);
    const ours = await run('wasm', c, data, lstmSequence);
    const nan = (a: Float32Array) => Array.from(a, Number.isNaN);
    expect(nan(ours.out)).toEqual(nan(reference.out));
    expect(nan(reference.out).some(Boolean)).toBe(true);
    ours.grads.forEach((g, i) => expect(nan(g)).toEqual(nan(reference.grads[i]!)));
  });

  it('refuses shapes that do not fit, naming them', () => {
    expect(() =>
      tf.tidy(() =>
        lstmSequence(tf.zeros([2, 3, 8]), tf.zeros([2, 2]), tf.zeros([2, 2]), tf.zeros([2, 6])),
      ),
    ).toThrow(/recurrent \[2,6\]/);
  });
});
