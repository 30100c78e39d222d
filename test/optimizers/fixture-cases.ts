import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { createOptimizer, type OptimizerName } from '../../src/optimizers/index.js';
import type { OptimizerKernel } from '../../src/optimizers/index.js';
import { quarticLoss, values, worstRatio } from './helpers.js';

/**
 * The independent float64 reference (tools/reference: PyTorch 1.13's optimizers plus a plain numpy
 * implementation, which agree to 1e-12; 94 cases of 60 updates). Float32 runs must stay within
 * |float32 − float64| ≤ ATOL + RTOL·|float64|: the reference itself measures how far a float32 run
 * of each case drifts (at most 7.2e-7), so 3e-6 is float32 rounding, not slack.
 */
export const ATOL = 3e-6;
export const RTOL = 3e-6;

export interface FixtureVariable {
  name: string;
  shape: number[];
  theta0: number[];
  a: number[];
  c: number[];
  q: number[];
}

export interface FixtureCase {
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

export const FIXTURE_CASES = (
  JSON.parse(readFileSync(new URL('../fixtures/optimizers.json', import.meta.url), 'utf8')) as {
    cases: FixtureCase[];
  }
).cases;

export interface FixtureRun {
  /** Largest error as a multiple of the tolerance (≤ 1 passes), and where it was. */
  worst: number;
  where: string;
  /** Whether every variable kept its storage from update 2 on (updated in place). */
  inPlace: boolean;
}

/**
 * Runs one fixture case on the active backend with the given kernel, tracking θ̂ where every
 * gradient was taken and θ after every update against the reference.
 */
export function runFixtureCase(
  fixture: FixtureCase,
  prefix: string,
  kernel: OptimizerKernel,
): FixtureRun {
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
  optimizer.kernel = kernel;
  const run: FixtureRun = { worst: 0, where: '', inPlace: true };
  const track = (actual: number[], expected: number[], label: string) => {
    const ratio = worstRatio(actual, expected, ATOL, RTOL);
    if (ratio > run.worst) [run.worst, run.where] = [ratio, label];
  };
  let dataIds: object[] = [];
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
      const name = fixture.variables[i]!.name;
      track(seen[i]!, fixture.thetaHat[k]![i]!, `θ̂ of ${name} at update ${k + 1}`);
      track(values(v), fixture.theta[k]![i]!, `θ of ${name} after update ${k + 1}`);
    });
    if (k === 1) dataIds = vars.map((v) => v.dataId);
    if (k > 1) run.inPlace &&= vars.every((v, i) => v.dataId === dataIds[i]);
  }
  optimizer.dispose();
  tf.dispose([...vars, ...a, ...c, ...q]);
  return run;
}
