import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaBeliefFusedKernels } from '../../src/kernels/fused/adabelief.js';
import { rmspropFusedKernels } from '../../src/kernels/fused/rmsprop.js';
import { sgdFusedKernels } from '../../src/kernels/fused/sgd.js';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import type { FusedKernels } from '../../src/prediction/fused/types.js';
import { adaBeliefRule, type AdaBeliefRuleOptions } from '../../src/rules/adabelief.js';
import { rmspropRule, type RmspropRuleOptions } from '../../src/rules/rmsprop.js';
import { sgdRule, type SgdRuleOptions } from '../../src/rules/sgd.js';
import type { Rule } from '../../src/rules/types.js';
import { randomValues } from '../kernels/helpers.js';

/**
 * The fused loops of SGD, RMSprop and AdaBelief, JS and (when the addon is built) native, against
 * their rules' tf ops, one update with a gradient scale (as clipping gives) and weight decay, then
 * the θ̂ the update prepared and a separate prediction pass: θ, every state slot and θ̂ bit for
 * bit, on the cpu backend (whose float32 kernels round each operation as Math.fround does) and on
 * wasm.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

interface Case {
  label: string;
  rule: Rule;
  kernels: FusedKernels;
  /** Slot values that make sense for the rule (v ≥ ḡ² for centred RMSprop, s > 0, …). */
  state: (n: number) => Float32Array[];
}

const sgd = (o: Omit<SgdRuleOptions, 'keepLastGradient'>): Case => {
  const options = { ...o, keepLastGradient: true };
  return {
    label: `sgd ${JSON.stringify(o)}`,
    rule: sgdRule(options),
    kernels: sgdFusedKernels(options),
    state: (n) => [randomValues(n, 7)],
  };
};

const rmsprop = (o: Omit<RmspropRuleOptions, 'keepLastGradient' | 'alpha' | 'epsilon'>): Case => {
  const options = { ...o, alpha: 0.99, epsilon: 1e-8, keepLastGradient: true };
  return {
    label: `rmsprop ${JSON.stringify(o)}`,
    rule: rmspropRule(options),
    kernels: rmspropFusedKernels(options),
    state: (n) => {
      const gAvg = randomValues(n, 8).map((x) => 0.1 * x);
      const v = randomValues(n, 9).map((x, i) => gAvg[i]! * gAvg[i]! + 0.01 * x * x + 1e-4);
      const slots: Float32Array[] = [v];
      if (o.centered) slots.push(gAvg);
      slots.push(randomValues(n, 10));
      return slots;
    },
  };
};

const adabelief = (o: Pick<AdaBeliefRuleOptions, 'amsgrad' | 'decoupledWeightDecay'>): Case => {
  const options = { ...o, beta1: 0.9, beta2: 0.999, epsilon: 1e-16 };
  return {
    label: `adabelief ${JSON.stringify(o)}`,
    rule: adaBeliefRule(options),
    kernels: adaBeliefFusedKernels(options),
    state: (n) => {
      const m = randomValues(n, 11).map((x) => 0.1 * x);
      const s = randomValues(n, 12).map((x) => 0.01 * x * x + 1e-6);
      return o.amsgrad ? [m, s, s.map((x, i) => (i % 2 === 0 ? 1.5 * x : 0.5 * x))] : [m, s];
    },
  };
};

const CASES: Case[] = [
  sgd({ momentum: 0, dampening: 0, nesterov: false }),
  sgd({ momentum: 0.9, dampening: 0, nesterov: false }),
  sgd({ momentum: 0.9, dampening: 0.1, nesterov: false }),
  sgd({ momentum: 0.9, dampening: 0, nesterov: true }),
  rmsprop({ momentum: 0, centered: false }),
  rmsprop({ momentum: 0, centered: true }),
  rmsprop({ momentum: 0.9, centered: false }),
  rmsprop({ momentum: 0.9, centered: true }),
  adabelief({ amsgrad: false, decoupledWeightDecay: true }),
  adabelief({ amsgrad: true, decoupledWeightDecay: true }),
  adabelief({ amsgrad: false, decoupledWeightDecay: false }),
];

const bits = (a: Float32Array) => new Uint32Array(Float32Array.from(a).buffer);

const native = nativeKernels();
const ROWS = (['cpu', 'wasm'] as const).flatMap((backend) =>
  (['js', 'native'] as const).map((path) => ({ backend, path })),
);

describe.each(ROWS)(
  '$path fused loops ≡ the rules’ tf ops, bit for bit, on $backend',
  ({ backend, path }) => {
    it
      .skipIf(path === 'native' && !native)
      .each(CASES.flatMap((c) => [1, 3].map((step) => ({ ...c, step }))))(
      '$label, update $step',
      async ({ rule, kernels: both, state: makeState, step }) => {
        await tf.setBackend(backend);
        const kernels = path === 'js' ? both.js : both.native!(native!);
        const n = 1001;
        const theta = randomValues(n, 1);
        const grad = randomValues(n, 2).map((x) => 3 * x);
        const state = makeState(n);
        const gradScale = 0.7;
        const ctx = { step, learningRate: 0.01, weightDecay: 0.05 };
        const next = { a: 0.999, b: 0.02, completed: step };

        // tf ops, as the tf-ops step runs them: the scaled gradient, the update, then θ̂.
        const before = tf.memory().numTensors;
        const reference = tf.tidy(() => {
          const g = tf.mul(tf.tensor1d(grad), gradScale);
          const out = rule.update(
            tf.tensor1d(theta),
            g,
            state.map((s) => tf.tensor1d(s)),
            ctx,
          );
          const direction = rule.direction!(out.state, next.completed);
          const predicted = tf.sub(tf.mul(out.theta, next.a), tf.mul(direction, next.b));
          return [out.theta, predicted, ...out.state].map((t) => t.dataSync() as Float32Array);
        });
        expect(tf.memory().numTensors).toBe(before);

        const fusedTheta = theta.slice();
        const fusedState = state.map((s) => s.slice());
        const prepared = new Float32Array(n);
        kernels.update(fusedTheta, grad.slice(), gradScale, fusedState, ctx, {
          ...next,
          predicted: prepared,
        });
        const predicted = new Float32Array(n);
        kernels.predict(fusedTheta, predicted, fusedState, next);

        expect(bits(fusedTheta)).toEqual(bits(reference[0]!));
        expect(bits(prepared)).toEqual(bits(reference[1]!));
        expect(bits(predicted)).toEqual(bits(prepared));
        fusedState.forEach((s, k) => expect(bits(s), `slot ${k}`).toEqual(bits(reference[2 + k]!)));

        // θ̂ written over the gradient the update reads gives the same θ̂.
        const over = grad.slice();
        kernels.update(
          theta.slice(),
          over,
          gradScale,
          state.map((s) => s.slice()),
          ctx,
          {
            ...next,
            predicted: over,
          },
        );
        expect(bits(over)).toEqual(bits(prepared));
      },
    );
  },
);
