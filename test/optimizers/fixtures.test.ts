import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, type OptimizerName } from '../../src/optimizers/index.js';
import { compileSchedule, type ScheduleSpec } from '../../src/schedules/index.js';
import { quarticLoss, values, worstRatio } from './helpers.js';

/**
 * The optimizers in float32 against the independent float64 reference (tools/reference: PyTorch
 * 1.13's optimizers plus a plain numpy implementation, which agree to 1e-12; 94 cases of 60
 * updates). Both θ after each update and θ̂ where each gradient was taken must stay within
 * |float32 − float64| ≤ ATOL + RTOL·|float64|. The reference itself measures how far a float32
 * run of each case drifts (at most 7.2e-7), so 3e-6 is float32 rounding, not slack.
 */
const ATOL = 3e-6;
const RTOL = 3e-6;

interface FixtureVariable {
  name: string;
  shape: number[];
  theta0: number[];
  a: number[];
  c: number[];
  q: number[];
}
interface FixtureCase {
  name: string;
  optimizer: OptimizerName;
  options: Record<string, unknown> & { excludeFromWeightDecay?: string[] };
  variables: FixtureVariable[];
  steps: number;
  lrs: number[];
  thetaHat: number[][][];
  theta: number[][][];
  loss: number[];
}

const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/optimizers.json', import.meta.url), 'utf8'),
) as { cases: FixtureCase[] };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fixtures cover what the issue asks for', () => {
  const cases = fixtures.cases;
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

describe.each(fixtures.cases.map((c, i) => [c.name, c, i] as const))(
  '%s',
  (_name, fixture, index) => {
    it('learning rates match the reference schedule', () => {
      const lr = fixture.options.learningRate;
      const schedule =
        typeof lr === 'number' ? () => lr : compileSchedule(lr as unknown as ScheduleSpec);
      fixture.lrs.forEach((expected, k) => expect(schedule(k)).toBeCloseTo(expected, 12));
    });

    it('θ̂ and θ follow the float64 reference', () => {
      const prefix = `fixture${index}`;
      const vars = fixture.variables.map((v) =>
        tf.variable(tf.tensor(v.theta0, v.shape), true, `${prefix}/${v.name}`),
      );
      const constants = (key: 'a' | 'c' | 'q') =>
        fixture.variables.map((v) => tf.tensor(v[key], v.shape));
      const [a, c, q] = [constants('a'), constants('c'), constants('q')];
      const { excludeFromWeightDecay, ...options } = fixture.options;
      const optimizer = createOptimizer(fixture.optimizer, {
        ...options,
        ...(excludeFromWeightDecay && {
          excludeFromWeightDecay: excludeFromWeightDecay.map((n) => `^${prefix}/${n}$`),
        }),
      });
      let worst = 0;
      let where = '';
      const track = (actual: number[], expected: number[], label: string) => {
        const ratio = worstRatio(actual, expected, ATOL, RTOL);
        if (ratio > worst) [worst, where] = [ratio, label];
      };
      for (let k = 0; k < fixture.steps; k++) {
        let seen: number[][] = [];
        optimizer.minimize(
          () => {
            seen = vars.map(values);
            return quarticLoss(vars, a, c, q);
          },
          false,
          vars,
        );
        vars.forEach((v, i) => {
          track(
            seen[i]!,
            fixture.thetaHat[k]![i]!,
            `θ̂ of ${fixture.variables[i]!.name} at update ${k + 1}`,
          );
          track(
            values(v),
            fixture.theta[k]![i]!,
            `θ of ${fixture.variables[i]!.name} after update ${k + 1}`,
          );
        });
      }
      expect(
        worst,
        `worst error ${worst.toFixed(3)}× the tolerance at ${where}`,
      ).toBeLessThanOrEqual(1);
      optimizer.dispose();
      tf.dispose([...vars, ...a, ...c, ...q]);
    });
  },
);
