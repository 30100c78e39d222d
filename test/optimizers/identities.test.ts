import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { quarticLoss, uniqueVariable, values, worstRatio } from './helpers.js';
import { build, ROWS } from './table.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A small problem with two variables of different shapes. */
function problem() {
  const vars = [
    uniqueVariable([0.5, -0.3, 0.8, 0.1, -0.7, 0.2], 'w', [2, 3]),
    uniqueVariable([0.4, -0.9], 'b'),
  ];
  const a = [tf.tensor([1, 2, 0.5, 1.5, 0.8, 2.5], [2, 3]), tf.tensor([1.2, 0.7])];
  const c = [tf.tensor([1, -1, 0.5, 0.2, 0.3, -0.4], [2, 3]), tf.tensor([-0.5, 0.25])];
  const q = [tf.tensor([0.1, 0, 0.3, 0.2, 0, 0.1], [2, 3]), tf.tensor([0.2, 0.05])];
  const loss = () => quarticLoss(vars, a, c, q);
  const dispose = () => tf.dispose([...vars, ...a, ...c, ...q]);
  return { vars, loss, dispose };
}

describe.each(ROWS.filter((row) => row.predicts !== false))('$label', (row) => {
  it('with s > 0 the first update is exactly the base optimizer’s', () => {
    const plain = problem();
    const predicted = problem();
    const base = build(row, { predictionSteps: 0 });
    const withPrediction = build(row, { predictionSteps: 2 });
    base.minimize(plain.loss, false, plain.vars);
    withPrediction.minimize(predicted.loss, false, predicted.vars);
    plain.vars.forEach((v, i) => expect(values(predicted.vars[i]!)).toEqual(values(v)));
    [plain, predicted].forEach((p) => p.dispose());
    [base, withPrediction].forEach((o) => o.dispose());
  });

  it('prediction changes neither the state nor the update, only where the gradient is taken', async () => {
    // With a linear loss the gradient is the same at θ̂ and θ, so an optimizer that predicts must
    // end bit-for-bit where the plain one does, state included.
    const p = problem();
    const predicting = build(row, { predictionSteps: 3 });
    for (let k = 0; k < 3; k++) predicting.minimize(p.loss, false, p.vars);
    const copy = (ws: { name: string; tensor: tf.Tensor }[]) =>
      ws.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    const savedState = copy(await predicting.getWeights());
    const savedTheta = p.vars.map((v) => v.clone());

    const slope = [tf.tensor([0.3, -0.2, 0.1, 0.5, -0.4, 0.25], [2, 3]), tf.tensor([-0.6, 0.9])];
    const linear = () =>
      tf.tidy(() => tf.addN(p.vars.map((v, i) => v.mul(slope[i]!).sum()))) as tf.Scalar;
    for (let k = 0; k < 4; k++) predicting.minimize(linear, false, p.vars);
    const thetaPredicting = p.vars.map(values);
    const statePredicting = copy(await predicting.getWeights());

    p.vars.forEach((v, i) => v.assign(savedTheta[i]!));
    const base = build(row, { predictionSteps: 0 });
    await base.setWeights(savedState.filter((w) => !w.name.endsWith('/lastGradient')));
    for (let k = 0; k < 4; k++) base.minimize(linear, false, p.vars);
    p.vars.forEach((v, i) => expect(values(v)).toEqual(thetaPredicting[i]));
    for (const { name, tensor } of await base.getWeights()) {
      const other = statePredicting.find((w) => w.name === name);
      expect(other, name).toBeDefined();
      expect(values(tensor)).toEqual(values(other!.tensor));
    }
    tf.dispose([...slope, ...savedTheta, ...savedState.map((w) => w.tensor)]);
    tf.dispose(statePredicting.map((w) => w.tensor));
    p.dispose();
    [base, predicting].forEach((o) => o.dispose());
  });

  it('θ̂ follows the closed form θ_t + s·(θ_t − (1 − ηλ)·θ_{t−1}) for a constant learning rate', () => {
    // Exact for every rule whose direction is the step it just took: AdamW, Adam, SGD with
    // momentum and RMSprop (METHOD.md section 2 identities). Other rows still check that θ̂ ≠ θ.
    const p = problem();
    const s = 2;
    const optimizer = build(row, { predictionSteps: s });
    const lr = row.options.learningRate as number;
    let previous = p.vars.map(values);
    let current = previous;
    let hats: number[][] = [];
    const record = () => {
      hats = p.vars.map(values);
      return p.loss();
    };
    optimizer.minimize(record, false, p.vars);
    current = p.vars.map(values);
    for (let k = 2; k <= 6; k++) {
      optimizer.minimize(record, false, p.vars);
      const exact = directionIsLastStep(row.name, row.options);
      p.vars.forEach((_, i) => {
        const expected = current[i]!.map(
          (theta, j) => theta + s * (theta - (1 - lr * row.decoupledDecay) * previous[i]![j]!),
        );
        if (exact) expect(worstRatio(hats[i]!, expected, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
        else expect(hats[i]).not.toEqual(current[i]);
      });
      previous = current;
      current = p.vars.map(values);
    }
    p.dispose();
    optimizer.dispose();
  });
});

/**
 * Whether the prediction direction Δθ_t is exactly the step just taken (θ_t − θ_{t−1} = −η·Δθ_t,
 * decoupled decay aside), which makes the closed form exact: true except with AMSGrad (the update
 * uses vMax, the prediction v), Nesterov (the update adds μ·buffer to the gradient), NAdam and Lion
 * (their Δθ takes the gradient term of the step from m) and Lookahead (θ jumps to φ every k steps).
 */
function directionIsLastStep(name: string, options: Record<string, unknown>): boolean {
  if (name === 'nadam' || name === 'lion' || name === 'lookahead-adamw') return false;
  return options.amsgrad !== true && options.nesterov !== true;
}
