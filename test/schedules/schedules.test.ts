import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  compileSchedule,
  constant,
  cosineDecay,
  exponentialDecay,
  linearWarmup,
  perEpoch,
  resolveLearningRate,
  sequence,
  stepDecay,
} from '../../src/schedules/index.js';

describe('schedules (step = completed updates)', () => {
  it('constant', () => {
    expect([0, 5, 1e6].map(compileSchedule(constant(0.1)))).toEqual([0.1, 0.1, 0.1]);
  });

  it('step decay at milestones, like MultiStepLR', () => {
    const lr = compileSchedule(stepDecay(1, [3, 5], 0.1));
    expect([0, 2, 3, 4, 5, 100].map(lr)).toEqual([1, 1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]);
  });

  it('exponential', () => {
    expect(compileSchedule(exponentialDecay(2, 0.5))(3)).toBe(0.25);
  });

  it('cosine from initial to final, then final', () => {
    const lr = compileSchedule(cosineDecay(1, 10, 0.1));
    expect(lr(0)).toBe(1);
    expect(lr(5)).toBeCloseTo(0.55, 12);
    expect(lr(10)).toBe(0.1);
    expect(lr(20)).toBe(0.1);
  });

  it('linear warmup, then the next schedule counted from the warmup’s end', () => {
    const lr = compileSchedule(linearWarmup(4, stepDecay(1, [2], 0.5)));
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(lr)).toEqual([0.25, 0.5, 0.75, 1, 1, 1, 0.5, 0.5]);
  });

  it('sequence joins schedules at boundaries, each counting from its boundary', () => {
    const lr = compileSchedule(sequence([constant(1), exponentialDecay(0.5, 0.5)], [3]));
    expect([0, 2, 3, 4, 5].map(lr)).toEqual([1, 1, 0.5, 0.25, 0.125]);
  });

  it('perEpoch drives an epoch schedule from update counts', () => {
    const lr = compileSchedule(perEpoch(10, stepDecay(1, [2], 0.1)));
    expect([0, 9, 19, 20, 35].map(lr)).toEqual([1, 1, 1, 0.1, 0.1]);
  });

  it('rejects bad specs with the path of the bad field', () => {
    expect(() => compileSchedule(stepDecay(1, [5, 3]))).toThrow(
      /milestones: must be strictly increasing/,
    );
    expect(() => compileSchedule(sequence([constant(1)], [3]))).toThrow(/one boundary fewer/);
    expect(() => compileSchedule(linearWarmup(2, cosineDecay(-1, 10)))).toThrow(
      /learningRate.then.initial: expected a finite learning rate >= 0, got -1/,
    );
    expect(() =>
      compileSchedule({ kind: 'perEpoch', stepsPerEpoch: 0, schedule: constant(1) }),
    ).toThrow(UserInputError);
  });

  it('checks what a user function returns', () => {
    const lr = resolveLearningRate((step) => (step > 2 ? NaN : 0.1));
    expect(lr(1)).toBe(0.1);
    expect(() => lr(3)).toThrow(/returned NaN for step 3/);
  });
});
