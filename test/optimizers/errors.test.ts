import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  AdaBelief,
  Adam,
  AdamW,
  createOptimizer,
  NonFiniteGradientError,
  RMSprop,
  SGD,
} from '../../src/optimizers/index.js';
import { uniqueVariable, values } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const invalid: [string, () => unknown, RegExp][] = [
  ['negative lr', () => new AdamW({ learningRate: -1 }), /AdamW: invalid learningRate -1/],
  ['NaN lr', () => new Adam({ learningRate: NaN }), /Adam: invalid learningRate/],
  [
    'beta1 = 1',
    () => new AdamW({ betas: [1, 0.999] }),
    /invalid betas\[0\] 1: expected a number in \[0, 1\)/,
  ],
  ['beta2 < 0', () => new AdaBelief({ betas: [0.9, -0.1] }), /AdaBelief: invalid betas\[1\] -0.1/],
  ['betas not a pair', () => new AdamW({ betas: [0.9] as never }), /invalid betas \[0.9\]/],
  ['negative epsilon', () => new AdamW({ epsilon: -1e-8 }), /invalid epsilon/],
  ['negative weight decay', () => new AdamW({ weightDecay: -0.1 }), /invalid weightDecay -0.1/],
  [
    'fractional s',
    () => new AdamW({ predictionSteps: 1.5 }),
    /invalid predictionSteps 1.5: expected an integer from 0 to 1000/,
  ],
  [
    // A bound, not an out-of-memory abort: s once sized an array allocated every step.
    's = 1e9',
    () => new AdamW({ predictionSteps: 1e9 }),
    /AdamW: invalid predictionSteps 1000000000: expected an integer from 0 to 1000/,
  ],
  ['negative s', () => new SGD({ predictionSteps: -1 }), /SGD: invalid predictionSteps -1/],
  ['momentum > 1', () => new SGD({ momentum: 1.5 }), /SGD: invalid momentum 1.5/],
  [
    'nesterov without momentum',
    () => new SGD({ nesterov: true }),
    /nesterov requires momentum > 0/,
  ],
  ['alpha = 1', () => new RMSprop({ alpha: 1 }), /RMSprop: invalid alpha 1/],
  ['zero clip norm', () => new AdamW({ clipGlobalNorm: 0 }), /invalid clipGlobalNorm 0/],
  [
    'bad policy',
    () => new AdamW({ nonFiniteGradients: 'ignore' as never }),
    /invalid nonFiniteGradients "ignore"/,
  ],
  [
    'includeWeightDecay with L2',
    () => new Adam({ includeWeightDecay: true }),
    /includeWeightDecay applies to decoupled/,
  ],
  [
    'typo in option',
    () => new AdamW({ learning_rate: 0.1 } as never),
    /unknown option "learning_rate"/,
  ],
  [
    'bad pattern',
    () => new AdamW({ excludeFromWeightDecay: '(' }),
    /invalid excludeFromWeightDecay "\("/,
  ],
  [
    'bad schedule',
    () => new AdamW({ learningRate: { kind: 'cosine', initial: 0.1, totalSteps: 0 } }),
    /learningRate.totalSteps/,
  ],
  [
    'unknown schedule',
    () => new AdamW({ learningRate: { kind: 'linear' } as never }),
    /unknown kind "linear"/,
  ],
  ['unknown optimizer', () => createOptimizer('lamb' as never), /Unknown optimizer "lamb"/],
];

describe('invalid hyper-parameters', () => {
  it.each(invalid)('%s', (_label, make, message) => {
    expect(make).toThrow(UserInputError);
    expect(make).toThrow(message);
  });
});

describe('use as tf.train optimizers are used', () => {
  it('minimize without a var list updates the variables the loss reaches, as tf.train.adam does', () => {
    // Another model's trainable variable in the same process: no gradient, so left alone.
    const other = uniqueVariable([5, 6], 'otherModel');
    const w = uniqueVariable([1, 2], 'w');
    const ours = new AdamW({ learningRate: 0.1, weightDecay: 0 });
    const reference = tf.train.adam(0.1, 0.9, 0.999, 1e-8);
    const wRef = uniqueVariable([1, 2], 'wRef');
    for (let i = 0; i < 3; i++) {
      ours.minimize(() => w.square().sum() as tf.Scalar);
      reference.minimize(() => wRef.square().sum() as tf.Scalar);
    }
    expect(values(other)).toEqual([5, 6]);
    const [a, b] = [values(w), values(wRef)];
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 5));
    tf.dispose([other, w, wRef]);
    ours.dispose();
    reference.dispose();
  });

  it('minimize and applyGradients after dispose() are refused with a message', () => {
    const w = uniqueVariable([1, 2], 'w');
    const optimizer = new AdamW({ predictionSteps: 1 });
    optimizer.minimize(() => w.square().sum() as tf.Scalar, false, [w]);
    optimizer.dispose();
    const before = values(w);
    expect(() => optimizer.minimize(() => w.square().sum() as tf.Scalar, false, [w])).toThrow(
      /WeightPredictionAdamW.minimize: this optimizer was disposed; create a new one/,
    );
    expect(() => optimizer.applyGradients({ [w.name]: tf.ones([2]) })).toThrow(/was disposed/);
    expect(values(w)).toEqual(before);
    w.dispose();
  });
});

describe('bad gradients', () => {
  it('a variable in varList without a gradient is named, and nothing changes', () => {
    const used = uniqueVariable([1, 2], 'used');
    const unused = uniqueVariable([3], 'unused');
    const optimizer = new AdamW({ predictionSteps: 1 });
    expect(() =>
      optimizer.minimize(() => used.square().sum() as tf.Scalar, false, [used, unused]),
    ).toThrow(new RegExp(`no gradient for variable\\(s\\) "${unused.name}"`));
    expect(values(used)).toEqual([1, 2]);
    expect(optimizer.iterations).toBe(0);
    tf.dispose([used, unused]);
    optimizer.dispose();
  });

  it('a non-finite gradient throws by default, naming the variable, and leaves θ and state untouched', async () => {
    const w = uniqueVariable([1, 2], 'w');
    const optimizer = new AdamW({ learningRate: 0.1, predictionSteps: 1 });
    optimizer.minimize(() => w.square().sum() as tf.Scalar);
    const before = values(w);
    const stateBefore = (await optimizer.getWeights()).map((s) => values(s.tensor));
    const poisoned = () => w.mul(tf.scalar(NaN)).sum() as tf.Scalar;
    const before2 = tf.memory().numTensors;
    expect(() => optimizer.minimize(poisoned)).toThrow(NonFiniteGradientError);
    expect(() => optimizer.minimize(poisoned)).toThrow(new RegExp(`"${w.name}" at update 2`));
    expect(tf.memory().numTensors).toBe(before2);
    expect(values(w)).toEqual(before);
    expect((await optimizer.getWeights()).map((s) => values(s.tensor))).toEqual(stateBefore);
    expect(optimizer.iterations).toBe(1);
    w.dispose();
    optimizer.dispose();
  });

  it("nonFiniteGradients: 'skip' skips the update and counts it", () => {
    const w = uniqueVariable([1, 2], 'w');
    const optimizer = new SGD({ learningRate: 0.1, nonFiniteGradients: 'skip' });
    optimizer.minimize(() => w.mul(tf.scalar(Infinity)).sum() as tf.Scalar);
    expect(values(w)).toEqual([1, 2]);
    expect(optimizer.skippedUpdates).toBe(1);
    expect(optimizer.iterations).toBe(0);
    optimizer.minimize(() => w.sum() as tf.Scalar);
    expect(values(w)).toEqual([0.9, 1.9].map(Math.fround));
    w.dispose();
    optimizer.dispose();
  });

  it('clipping with huge but finite gradients (their squared norm overflows float32) still clips', () => {
    const w = uniqueVariable([1, 2], 'w');
    const optimizer = new SGD({ learningRate: 1, clipGlobalNorm: 1 });
    optimizer.minimize(() => w.mul(tf.tensor1d([3e20, 4e20])).sum() as tf.Scalar);
    const [a, b] = values(w);
    expect(a).toBeCloseTo(1 - 0.6, 5);
    expect(b).toBeCloseTo(2 - 0.8, 5);
    w.dispose();
    optimizer.dispose();
  });
});
