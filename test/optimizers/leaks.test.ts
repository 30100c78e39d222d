import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineDecay } from '../../src/schedules/index.js';
import { quarticLoss, uniqueVariable } from './helpers.js';
import { build, ROWS } from './table.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(ROWS)('memory: $label', (row) => {
  for (const s of row.predicts === false ? [0] : [0, 1, 3]) {
    it(`numTensors is flat across 1000 steps with predictionSteps ${s}`, () => {
      const vars = [uniqueVariable([0.5, -0.3, 0.8, 0.1], 'w', [2, 2]), uniqueVariable([0.4], 'b')];
      const a = [tf.tensor([1, 2, 0.5, 1.5], [2, 2]), tf.tensor([1.2])];
      const c = [tf.tensor([1, -1, 0.5, 0.2], [2, 2]), tf.tensor([-0.5])];
      const q = [tf.tensor([0.1, 0, 0.3, 0.2], [2, 2]), tf.tensor([0.2])];
      const optimizer = build(row, {
        predictionSteps: s,
        learningRate: cosineDecay(row.options.learningRate as number, 1000),
        clipGlobalNorm: 1,
      });
      const loss = () => quarticLoss(vars, a, c, q);
      // The first step creates the optimizer's state; from then on nothing may accumulate.
      optimizer.minimize(loss, false, vars);
      const cost = optimizer.minimize(loss, true, vars);
      cost?.dispose();
      const after = tf.memory().numTensors;
      for (let k = 0; k < 1000; k++) {
        if (k % 2 === 0) optimizer.minimize(loss, false, vars);
        else optimizer.minimize(loss, true, vars)!.dispose();
      }
      expect(tf.memory().numTensors).toBe(after);
      optimizer.dispose();
      tf.dispose([...vars, ...a, ...c, ...q]);
    });
  }
});

describe('memory: state round trip', () => {
  it('setWeights copies what it is given and dispose frees it all', async () => {
    const w = uniqueVariable([1, 2, 3], 'w');
    const source = build(ROWS[0]!, { predictionSteps: 1 });
    source.minimize(() => w.square().sum() as tf.Scalar);
    const saved = (await source.getWeights()).map((x) => ({
      name: x.name,
      tensor: x.tensor.clone(),
    }));
    const before = tf.memory().numTensors;
    const target = build(ROWS[0]!, { predictionSteps: 1 });
    await target.setWeights(saved);
    expect(tf.memory().numTensors).toBe(before + 2); // m and v
    target.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(saved.map((x) => x.tensor));
    source.dispose();
    w.dispose();
  });
});
