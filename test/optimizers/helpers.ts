import * as tf from '@tensorflow/tfjs';

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
