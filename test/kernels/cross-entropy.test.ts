import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { classificationLoss, languageModelLoss } from '../../src/training/index.js';
import { expectClose, randomValues, rng } from './helpers.js';

/**
 * The fused sparse softmax cross-entropy (wasm with the native addon) against the stock one-hot +
 * softmaxCrossEntropy on the cpu backend: loss and logits gradient within 1e-5 (float32 sums in
 * a different order), NaN where the stock path gives NaN, memory flat.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('sparse softmax cross-entropy', () => {
  it.each([
    [1, 2],
    [7, 10],
    [33, 10_000],
    [128, 10],
  ])('matches the stock loss and gradient: %i rows × %i classes', async (rows, classes) => {
    const next = rng(rows * classes);
    const logits = randomValues(rows * classes, rows + classes).map((v) => 8 * v);
    // One row with huge logits: the log-sum-exp must not overflow.
    logits.fill(60, 0, Math.min(classes, 3));
    const labels = Int32Array.from({ length: rows }, () => Math.floor(next() * classes));
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const init = tf.tensor2d(logits, [rows, classes]);
      const z = tf.variable(init);
      init.dispose();
      const y = tf.tensor1d(labels, 'int32');
      const { value, grads } = tf.variableGrads(() => classificationLoss(z, y, classes), [z]);
      const out = {
        loss: value.dataSync()[0]!,
        grad: (grads[z.name]!.dataSync() as Float32Array).slice(),
      };
      tf.dispose([z, y, value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const reference = await run('cpu');
    const ours = await run('wasm');
    expect(Number.isFinite(ours.loss)).toBe(true);
    expect(Math.abs(ours.loss - reference.loss)).toBeLessThan(
      1e-5 * (1 + Math.abs(reference.loss)),
    );
    expectClose(ours.grad, reference.grad, 1e-5);
  });

  it('the language-model loss (3-D logits, int32 targets) matches the stock path', async () => {
    const [b, t, v] = [3, 5, 17];
    const logits = randomValues(b * t * v, 5);
    const targets = Int32Array.from({ length: b * t }, (_, i) => (i * 7) % v);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(
        () =>
          languageModelLoss(
            tf.tensor3d(logits, [b, t, v]),
            tf.tensor2d(targets, [b, t], 'int32'),
            v,
          ).dataSync()[0]!,
      );
    };
    expect(await run('wasm')).toBeCloseTo(await run('cpu'), 5);
  });

  it('gives NaN for NaN logits and for a label out of range, like the stock path', async () => {
    await tf.setBackend('wasm');
    const nanLoss = tf.tidy(
      () =>
        classificationLoss(
          tf.tensor2d([0, NaN, 1, 2], [2, 2]),
          tf.tensor1d([0, 1], 'int32'),
          2,
        ).dataSync()[0]!,
    );
    expect(nanLoss).toBeNaN();
    if (nativeKernels()) {
      const outOfRange = tf.tidy(
        () =>
          classificationLoss(
            tf.tensor2d([0, 1, 1, 2], [2, 2]),
            tf.tensor1d([0, 5], 'int32'),
            2,
          ).dataSync()[0]!,
      );
      expect(outOfRange).toBeNaN();
    }
  });
});
