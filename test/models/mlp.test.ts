import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { buildMlp, countParameters, setDropoutSeed, weightNames } from '../../src/models/index.js';
import {
  classificationLoss,
  expectDifferentRandomWeights,
  expectSameWeights,
  expectTrainingWorks,
  randomBatch,
  trainableVariables,
  trainWithAdam,
} from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildMlp', () => {
  it('maps [batch, ...inputShape] to [batch, numClasses] logits', () => {
    const model = buildMlp({ inputShape: [4, 3, 2], hiddenUnits: [5], numClasses: 7, seed: 1 });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const y = model.predict(tf.ones([3, 4, 3, 2])) as tf.Tensor;
      expect(y.shape).toEqual([3, 7]);
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('has the documented parameter count', () => {
    const mnist = buildMlp({ inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
    expect(countParameters(mnist)).toBe(784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
    expect(countParameters(mnist)).toBe(269_322);
    expect(countParameters(mnist, 'all')).toBe(269_322);
    mnist.dispose();
    const small = buildMlp({ inputShape: [6], hiddenUnits: [4, 3, 2], numClasses: 5, seed: 0 });
    expect(countParameters(small)).toBe(7 * 4 + 5 * 3 + 4 * 2 + 3 * 5);
    small.dispose();
  });

  it('gives identical weights for one seed and different weights for another', () => {
    const opts = { inputShape: [10], hiddenUnits: [8, 8], numClasses: 3 };
    const a = buildMlp({ ...opts, seed: 7 });
    const b = buildMlp({ ...opts, seed: 7 });
    const c = buildMlp({ ...opts, seed: 8 });
    expectSameWeights(a, b);
    expectDifferentRandomWeights(a, c);
    // Each layer gets its own stream: same-shaped kernels must not repeat each other.
    const k1 = a.getLayer('dense2').getWeights()[0]?.dataSync();
    const k2 = buildMlp({ inputShape: [8], hiddenUnits: [8], numClasses: 8, seed: 7 })
      .getLayer('dense1')
      .getWeights()[0]
      ?.dataSync();
    expect(k1).not.toEqual(k2);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('names layers and weights the same way on every build in one process', () => {
    const build = () =>
      buildMlp({ inputShape: [3, 1], hiddenUnits: [4, 4], numClasses: 2, seed: 1 });
    const a = build();
    const b = build();
    const expected = [
      'dense1/kernel',
      'dense1/bias',
      'dense2/kernel',
      'dense2/bias',
      'logits/kernel',
      'logits/bias',
    ];
    expect(weightNames(a)).toEqual(expected);
    expect(weightNames(b)).toEqual(expected);
    expect(b.layers.map((l) => l.name)).toEqual(['input', 'flatten', 'dense1', 'dense2', 'logits']);
    expect(a.layers.map((l) => l.name)).toEqual(b.layers.map((l) => l.name));
    a.dispose();
    b.dispose();
  });

  it('rejects bad options with UserInputError', () => {
    const ok = { inputShape: [3], numClasses: 2, seed: 1 };
    expect(() => buildMlp({ ...ok, hiddenUnits: [4, 0] })).toThrow(/hiddenUnits\[1\]/);
    expect(() => buildMlp({ ...ok, numClasses: 0 })).toThrow(UserInputError);
    expect(() => buildMlp({ ...ok, seed: -1 })).toThrow(/seed must be a non-negative integer/);
    expect(() => buildMlp({ ...ok, inputShape: [] })).toThrow(/inputShape/);
    // @ts-expect-error: an activation the builder does not offer
    expect(() => buildMlp({ ...ok, activation: 'softmax' })).toThrow(/activation must be one of/);
    expect(() => buildMlp({ ...ok, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
  });

  it.each([0, 0.3])('trains with Adam on random data (dropout %s), tensors flat', (dropout) => {
    setDropoutSeed(3);
    const model = buildMlp({
      inputShape: [12],
      hiddenUnits: [32],
      numClasses: 4,
      dropout,
      seed: 2,
    });
    const { x, labels } = randomBatch([16, 12], 4, 5);
    const result = trainWithAdam(
      trainableVariables(model),
      classificationLoss(model, x, labels, 4),
      30,
    );
    expectTrainingWorks(result, 0.5);
    tf.dispose([x, labels]);
    model.dispose();
  });
});
