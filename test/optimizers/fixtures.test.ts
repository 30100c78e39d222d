import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSchedule, type ScheduleSpec } from '../../src/schedules/index.js';
import { FIXTURE_CASES, runFixtureCase } from './fixture-cases.js';

/** The optimizers in float32 against the independent float64 reference (see fixture-cases.ts). */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fixtures cover what the issue asks for', () => {
  const cases = FIXTURE_CASES;
  it('every optimizer, s = 0..3, AMSGrad, weight decay, schedules, ≥ 50 steps', () => {
    for (const name of ['adamw', 'adam', 'sgd', 'rmsprop', 'adabelief']) {
      for (const s of [0, 1, 2, 3]) {
        expect(
          cases.some((c) => c.optimizer === name && (c.options.predictionSteps ?? 0) === s),
          `${name} s=${s}`,
        ).toBe(true);
      }
    }
    expect(cases.some((c) => c.options.amsgrad === true)).toBe(true);
    expect(cases.some((c) => typeof c.options.learningRate === 'object')).toBe(true);
    expect(cases.some((c) => c.options.scheduleAware === true)).toBe(true);
    expect(cases.some((c) => c.options.includeWeightDecay === true)).toBe(true);
    expect(cases.some((c) => c.options.clipGlobalNorm !== undefined)).toBe(true);
    expect(cases.some((c) => c.options.excludeFromWeightDecay !== undefined)).toBe(true);
    expect(Math.min(...cases.map((c) => c.steps))).toBeGreaterThanOrEqual(50);
  });
});

describe.each(FIXTURE_CASES.map((c, i) => [c.name, c, i] as const))(
  '%s',
  (_name, fixture, index) => {
    it('learning rates match the reference schedule', () => {
      const lr = fixture.options.learningRate;
      const schedule =
        typeof lr === 'number' ? () => lr : compileSchedule(lr as unknown as ScheduleSpec);
      fixture.lrs.forEach((expected, k) => expect(schedule(k)).toBeCloseTo(expected, 12));
    });

    // On cpu, 'fused' is the single-pass path of Adam and AdamW (the others fall back to tf ops).
    it.each(['tfjs', 'fused'] as const)(
      'θ̂ and θ follow the float64 reference (%s kernel)',
      (kernel) => {
        const { worst, where } = runFixtureCase(fixture, `fixture${index}${kernel}`, kernel);
        expect(
          worst,
          `worst error ${worst.toFixed(3)}× the tolerance at ${where}`,
        ).toBeLessThanOrEqual(1);
      },
    );
  },
);
