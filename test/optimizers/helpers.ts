import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { WeightPredictionOptimizer } from '../../src/optimizers/index.js';
import { rng } from '../kernels/helpers.js';

let counter = 0;

/** A variable with a name unique in this process (TF.js registers variables by name globally). */
export function uniqueVariable(
  values: number[] | tf.Tensor,
  name = 'v',
  shape?: number[],
): tf.Variable {
  counter += 1;
  const initial = values instanceof tf.Tensor ? values : tf.tensor(values, shape);
  return tf.variable(initial, true, `${name}_${counter}`);
}

/** ½·Σ a(θ − c)² + ¼·Σ q(θ − c)⁴ summed over variables, the loss of the reference fixtures. */
export function quarticLoss(
  variables: readonly tf.Variable[],
  a: readonly tf.Tensor[],
  c: readonly tf.Tensor[],
  q: readonly tf.Tensor[],
): tf.Scalar {
  return tf.tidy(() =>
    tf.addN(
      variables.map((v, i) => {
        const d = v.sub(c[i]!);
        const d2 = d.square();
        return d2.mul(a[i]!).mul(0.5).add(d2.square().mul(q[i]!).mul(0.25)).sum();
      }),
    ),
  ) as tf.Scalar;
}

export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Largest |actual − expected| / (atol + rtol·|expected|); ≤ 1 means within tolerance. */
export function worstRatio(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const ratio = Math.abs(actual[i]! - e) / (atol + rtol * Math.abs(e));
    if (!(ratio <= worst)) worst = Number.isNaN(ratio) ? Infinity : ratio;
  }
  return worst;
}

/** Variables with seeded random values, and the fixtures' quartic loss on them. */
export interface Problem {
  vars: tf.Variable[];
  loss: () => tf.Scalar;
  dispose: () => void;
}

/** The fixtures' quartic loss on variables of the given shapes with seeded random values. */
export function randomProblem(shapes: number[][], seed: number, name = 'fused'): Problem {
  const next = rng(seed);
  const fill = (shape: number[], lo: number, hi: number) =>
    tf.tensor(
      Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => lo + (hi - lo) * next()),
      shape,
    );
  const vars = shapes.map((s) => uniqueVariable(fill(s, -1, 1), name));
  const a = shapes.map((s) => fill(s, 0.2, 2));
  const c = shapes.map((s) => fill(s, -1, 1));
  const q = shapes.map((s) => fill(s, 0, 0.2));
  return {
    vars,
    loss: () => quarticLoss(vars, a, c, q),
    dispose: () => tf.dispose([...vars, ...a, ...c, ...q]),
  };
}

/** Two identical copies of a problem: one for each path. */
export function problemPair(shapes: number[][], seed: number, name?: string): [Problem, Problem] {
  return [randomProblem(shapes, seed, name), randomProblem(shapes, seed, name)];
}

/** The same optimizer twice: one set to the fused path, one to the tf-ops path. */
export function onBothPaths<O extends WeightPredictionOptimizer>(make: () => O): [O, O] {
  const [fused, tfOps] = [make(), make()];
  fused.kernel = 'fused';
  tfOps.kernel = 'tfjs';
  return [fused, tfOps];
}

/**
 * One `minimize` of `fused` on p and of `tfOps` on ref (identical problems). Per variable: the
 * worst ratio to 1e-6 (relative and absolute) between the θ̂ their loss closures saw, and between
 * the θ their steps left.
 */
export function stepBoth(
  fused: WeightPredictionOptimizer,
  tfOps: WeightPredictionOptimizer,
  p: Problem,
  ref: Problem,
): { seen: number[]; after: number[] } {
  let seenFused: number[][] = [];
  let seenRef: number[][] = [];
  fused.minimize(() => ((seenFused = p.vars.map(values)), p.loss()), false, p.vars);
  tfOps.minimize(() => ((seenRef = ref.vars.map(values)), ref.loss()), false, ref.vars);
  return {
    seen: p.vars.map((_, j) => worstRatio(seenFused[j]!, seenRef[j]!, 1e-6, 1e-6)),
    after: p.vars.map((v, j) => worstRatio(values(v), values(ref.vars[j]!), 1e-6, 1e-6)),
  };
}

/** Expects each variable within 1e-6 (relative and absolute) of its counterpart. */
export function expectCloseVariables(
  actual: readonly tf.Variable[],
  expected: readonly tf.Variable[],
  what = '',
): void {
  actual.forEach((v, i) =>
    expect(
      worstRatio(values(v), values(expected[i]!), 1e-6, 1e-6),
      `${what}${what && ', '}var ${i}`,
    ).toBeLessThanOrEqual(1),
  );
}
