import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/optimizers/index.js';
import { uniqueVariable, values } from './helpers.js';

// METHOD.md section 4: float64 golden values for AdamW with and without prediction. Float32
// arithmetic over five steps stays within 1e-6 of them.
const TOLERANCE = 1e-6;

const golden: Record<number, Record<number, { hat?: number[]; theta: number[] }>> = {
  0: {
    1: { theta: [0.599499998, -0.399699999286, 0.699200006667] },
    2: { theta: [0.697722947467, -0.498609055872, 0.601511478767] },
    3: { theta: [0.79337865846, -0.596073157031, 0.511408047719] },
    5: { theta: [0.969060901972, -0.783070826943, 0.382115567641] },
  },
  1: {
    1: { hat: [0.5, -0.3, 0.8], theta: [0.599499998, -0.399699999286, 0.699200006667] },
    2: {
      hat: [0.699499996, -0.499699998571, 0.599200013333],
      theta: [0.694671037454, -0.497088486469, 0.61151335381],
    },
    3: {
      hat: [0.790441576906, -0.594876673652, 0.52452590096],
      theta: [0.785254790408, -0.59220133833, 0.538914068256],
    },
    5: {
      hat: [0.953853228978, -0.776703025153, 0.433158780021],
      theta: [0.943664498638, -0.771707695323, 0.452985455998],
    },
  },
  2: {
    2: {
      hat: [0.799499994, -0.599699997857, 0.49920002],
      theta: [0.688796079086, -0.49441405226, 0.631693756124],
    },
    5: {
      hat: [0.991774259143, -0.847885947184, 0.466845424243],
      theta: [0.906360909321, -0.754150789994, 0.515749255059],
    },
  },
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('METHOD.md golden values', () => {
  for (const s of [0, 1, 2]) {
    it(`AdamW with predictionSteps ${s}`, () => {
      const theta = uniqueVariable([0.5, -0.3, 0.8], 'theta');
      const a = tf.tensor1d([1, 2, 0.5]);
      const c = tf.tensor1d([1, -1, 0.5]);
      const optimizer = new AdamW({ learningRate: 0.1, weightDecay: 0.01, predictionSteps: s });
      for (let k = 1; k <= 5; k++) {
        let seen: number[] = [];
        optimizer.minimize(() => {
          seen = values(theta);
          return tf.sum(a.mul(theta.sub(c).square())).mul(0.5) as tf.Scalar;
        });
        const expected = golden[s]![k];
        if (!expected) continue;
        if (expected.hat) expect(maxError(seen, expected.hat)).toBeLessThan(TOLERANCE);
        expect(maxError(values(theta), expected.theta)).toBeLessThan(TOLERANCE);
      }
      tf.dispose([theta, a, c]);
      optimizer.dispose();
    });
  }
});

function maxError(actual: number[], expected: number[]): number {
  return Math.max(...expected.map((e, i) => Math.abs(actual[i]! - e)));
}
