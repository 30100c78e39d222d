import { describe, expect, it } from 'vitest';
import { adaBeliefFusedKernels } from '../../src/kernels/fused/adabelief.js';
import { adamFusedKernels } from '../../src/kernels/fused/adam.js';
import { lionFusedKernels } from '../../src/kernels/fused/lion.js';
import { nadamFusedKernels } from '../../src/kernels/fused/nadam.js';
import { rmspropFusedKernels } from '../../src/kernels/fused/rmsprop.js';
import { sgdFusedKernels } from '../../src/kernels/fused/sgd.js';
import { nativeKernels, nativeUnavailableReason } from '../../src/kernels/native.js';
import type { FusedKernels } from '../../src/prediction/fused/types.js';
import { randomValues } from './helpers.js';

/**
 * The native addon's optimizer loops against the JS loops they replace: the same arithmetic
 * operation by operation, so the results must be bit-identical (the fixtures tests then cover
 * both). Sizes span one element, an odd size, and arrays large enough to be split across threads.
 */

const native = nativeKernels();

/**
 * Asserts two float32 arrays are equal bit for bit, naming the first element that differs
 * (vitest's deep equality took seconds on 100k-element arrays).
 */
function expectSameBits(ours: Float32Array, theirs: Float32Array, what: string): void {
  const [a, b] = [new Uint32Array(ours.buffer), new Uint32Array(theirs.buffer)];
  expect(a.length, `${what}: length`).toBe(b.length);
  const i = a.findIndex((x, k) => x !== b[k]);
  expect(i < 0 ? '' : `${what}[${i}]: ${ours[i]} vs ${theirs[i]}`).toBe('');
}

describe('native addon', () => {
  it('is built and loads in CI (npm ci builds it; .ci/run installs OpenBLAS)', () => {
    if (process.env.CI === undefined) return;
    expect(nativeUnavailableReason()).toBeNull();
  });

  it('rejects arrays of the wrong type or length with a TypeError, changing nothing', () => {
    if (!native) return;
    const theta = new Float32Array(8).fill(1);
    expect(() =>
      native.adamPredict(theta, new Float32Array(4), theta, theta, 1, 1, 1, 1e-8),
    ).toThrow(/argument 1 has 4 floats, needs 8/);
    expect(() =>
      native.adamPredict(theta, new Float64Array(8) as never, theta, theta, 1, 1, 1, 1e-8),
    ).toThrow(/argument 1 must be a Float32Array/);
    expect(() => native.sumOfSquares([1, 2] as never)).toThrow(/must be a Float32Array/);
    expect([...theta]).toEqual(new Array(8).fill(1));
  });

  it.skipIf(!native)(
    'lstmForward and lstmBackward with zero units return (no division by zero)',
    () => {
      // Every array is empty; the row grain once divided by the unit count and killed the process.
      const none = () => new Float32Array(0);
      expect(() =>
        native!.lstmForward(none(), none(), none(), none(), none(), none(), none(), 2, 3, 0),
      ).not.toThrow();
      expect(() =>
        native!.lstmBackward(
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          none(),
          2,
          3,
          0,
        ),
      ).not.toThrow();
    },
  );

  it.skipIf(!native)('sumOfSquares agrees with a float64 sum, for any thread count', () => {
    const threads = native!.threads();
    try {
      for (const n of [0, 1, 17, 16_385, 300_001]) {
        const x = randomValues(n, n + 1);
        let exact = 0;
        for (const value of x) exact += value * value;
        native!.setThreads(1);
        const one = native!.sumOfSquares(x);
        native!.setThreads(2);
        const two = native!.sumOfSquares(x);
        expect(two).toBe(one); // fixed blocks summed in order
        expect(Math.abs(one - exact)).toBeLessThanOrEqual(1e-12 * Math.max(exact, 1));
      }
      expect(native!.sumOfSquares(Float32Array.of(1, NaN))).toBeNaN();
      expect(native!.sumOfSquares(Float32Array.of(3e38, 3e38))).toBeCloseTo(1.8e77, -74);
    } finally {
      native!.setThreads(threads);
    }
  });

  it.skipIf(!native).each([
    { rows: 50_176, channels: 16 }, // a CIFAR ResNet's first stage: one channel block, 25 row chunks
    { rows: 4_099, channels: 37 }, // a chunk and block cut short
    { rows: 3, channels: 5 },
  ])(
    'batch norm: the same bits for 1 and 2 threads, and float64 statistics: $rows × $channels',
    ({ rows, channels }) => {
      const n = rows * channels;
      const x = randomValues(n, 5).map((v, i) => v * 3 + (i % channels));
      const dy = randomValues(n, 6);
      const gamma = randomValues(channels, 7);
      const beta = randomValues(channels, 8);
      const run = (threads: number) => {
        native!.setThreads(threads);
        const out = {
          y: new Float32Array(n),
          mean: new Float32Array(channels),
          variance: new Float32Array(channels),
          dx: new Float32Array(n),
          dgamma: new Float32Array(channels),
          dbeta: new Float32Array(channels),
        };
        native!.batchNormForward(
          x,
          gamma,
          beta,
          out.y,
          out.mean,
          out.variance,
          rows,
          channels,
          1e-5,
        );
        native!.batchNormBackward(
          dy,
          x,
          out.mean,
          out.variance,
          gamma,
          out.dx,
          out.dgamma,
          out.dbeta,
          rows,
          channels,
          1e-5,
        );
        return out;
      };
      const threads = native!.threads();
      try {
        const [one, two] = [run(1), run(2)];
        for (const key of Object.keys(one) as (keyof typeof one)[]) {
          expectSameBits(two[key], one[key], key);
        }
        // The statistics against a float64 two-pass computation, and Σdy against its float64 sum.
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          let sumDy = 0;
          for (let r = 0; r < rows; r++) {
            sum += x[r * channels + c]!;
            sumDy += dy[r * channels + c]!;
          }
          const mean = sum / rows;
          let squares = 0;
          for (let r = 0; r < rows; r++) squares += (x[r * channels + c]! - mean) ** 2;
          expect(one.mean[c]).toBeCloseTo(mean, 5);
          expect(Math.abs(one.variance[c]! - squares / rows)).toBeLessThanOrEqual(
            1e-6 * (squares / rows) + 1e-12,
          );
          expect(Math.abs(one.dbeta[c]! - sumDy)).toBeLessThanOrEqual(
            1e-6 * Math.abs(sumDy) + 1e-6,
          );
        }
      } finally {
        native!.setThreads(threads);
      }
    },
  );

  // Large enough to be split across threads: run with 2 whatever WEIGHT_PREDICTION_THREADS says.
  // `shared`: θ̂'s step term equals the update's (s = 1, no decay in θ̂: b = lr, completed = step),
  // which the native loop computes once for both.
  const sizes = [1, 1001, 100_003];
  const rows = sizes.flatMap((n) =>
    [false, true].flatMap((amsgrad) =>
      [false, true].flatMap((decoupled) =>
        [false, true].map((shared) => ({ n, amsgrad, decoupled, shared })),
      ),
    ),
  );
  it.skipIf(!native).each(rows)(
    'Adam loops ≡ JS loops bit for bit: n $n, amsgrad $amsgrad, decoupled $decoupled, shared step $shared',
    ({ n, amsgrad, decoupled, shared }) => {
      const kernels = adamFusedKernels({
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        amsgrad,
        decoupledWeightDecay: decoupled,
      });
      const threads = native!.threads();
      native!.setThreads(2);
      const ctx = { step: 3, learningRate: 1e-2, weightDecay: 0.05 };
      const next = shared ? { a: 1, b: 1e-2, completed: 3 } : { a: 0.99, b: 0.03, completed: 3 };
      const start = () => {
        const state = [
          randomValues(n, 3)
            .map(Math.abs)
            .map((x) => x * 0.1),
          randomValues(n, 4).map((x) => x * x * 0.01),
        ];
        if (amsgrad) state.push(state[1]!.map((x) => x * 1.5));
        return { theta: randomValues(n, 1), grad: randomValues(n, 2), state };
      };
      const run = (useNative: boolean) => {
        const kernel = useNative ? kernels.native!(native!) : kernels.js;
        const { theta, grad, state } = start();
        const predicted = new Float32Array(n);
        const prepared = new Float32Array(n);
        kernel.predict(theta, predicted, state, { a: 1.01, b: 0.02, completed: 2 });
        // An update that also prepares the next θ̂, then one that does not.
        kernel.update(theta, grad, 0.7, state, ctx, { ...next, predicted: prepared });
        // What the update prepared is what a prediction pass gives from its results.
        const check = new Float32Array(n);
        kernel.predict(theta, check, state, next);
        expectSameBits(prepared, check, 'prepared θ̂ vs predict');
        // The same update writing θ̂ over its gradient gives the same θ, state and θ̂.
        const over = start();
        kernel.update(over.theta, over.grad, 0.7, over.state, ctx, {
          ...next,
          predicted: over.grad,
        });
        expectSameBits(over.grad, prepared, 'θ̂ over the gradient');
        expectSameBits(over.theta, theta, 'θ with θ̂ over the gradient');
        over.state.forEach((x, k) => expectSameBits(x, state[k]!, `slot ${k} with θ̂ over g`));
        kernel.update(theta, grad, 1, state, { ...ctx, step: 4 });
        return [theta, predicted, prepared, ...state];
      };
      try {
        const ours = run(true);
        const js = run(false);
        const names = ['θ', 'predicted', 'prepared', 'm', 'v', 'vMax'];
        for (let k = 0; k < js.length; k++) expectSameBits(ours[k]!, js[k]!, names[k]!);
      } finally {
        native!.setThreads(threads);
      }
    },
  );
  /** A rule's fused loops and slot values that make sense for it (v ≥ ḡ², s > 0, …). */
  interface OtherCase {
    label: string;
    kernels: FusedKernels;
    state: (n: number) => Float32Array[];
  }
  /** Some exact ±0 in an array: Lion's sign and SGD's zero gradients take those branches. */
  const withZeros = (x: Float32Array) =>
    x.map((value, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : value));
  const positive = (n: number, seed: number, scale: number, floor: number) =>
    randomValues(n, seed).map((x) => scale * x * x + floor);
  const otherCases: OtherCase[] = [
    ...[
      { momentum: 0, dampening: 0, nesterov: false },
      { momentum: 0.9, dampening: 0, nesterov: false },
      { momentum: 0.9, dampening: 0.1, nesterov: false },
      { momentum: 0.9, dampening: 0, nesterov: true },
    ].map((o) => ({
      label: `sgd ${JSON.stringify(o)}`,
      kernels: sgdFusedKernels({ ...o, keepLastGradient: true }),
      state: (n: number) => [randomValues(n, 7)],
    })),
    ...[
      { momentum: 0, centered: false },
      { momentum: 0, centered: true },
      { momentum: 0.9, centered: false },
      { momentum: 0.9, centered: true },
    ].map((o) => ({
      label: `rmsprop ${JSON.stringify(o)}`,
      kernels: rmspropFusedKernels({ ...o, alpha: 0.99, epsilon: 1e-8, keepLastGradient: true }),
      state: (n: number) => {
        const gAvg = randomValues(n, 8).map((x) => 0.1 * x);
        const v = positive(n, 9, 0.01, 1e-4).map((x, i) => x + gAvg[i]! * gAvg[i]!);
        return o.centered ? [v, gAvg, randomValues(n, 10)] : [v, randomValues(n, 10)];
      },
    })),
    ...[
      { amsgrad: false, decoupledWeightDecay: true },
      { amsgrad: true, decoupledWeightDecay: true },
      { amsgrad: false, decoupledWeightDecay: false },
    ].map((o) => ({
      label: `adabelief ${JSON.stringify(o)}`,
      kernels: adaBeliefFusedKernels({ ...o, beta1: 0.9, beta2: 0.999, epsilon: 1e-16 }),
      state: (n: number) => {
        const s = positive(n, 12, 0.01, 1e-6);
        const m = randomValues(n, 11).map((x) => 0.1 * x);
        return o.amsgrad ? [m, s, s.map((x, i) => (i % 2 === 0 ? 1.5 * x : 0.5 * x))] : [m, s];
      },
    })),
    ...[false, true].map((decoupledWeightDecay) => ({
      label: `nadam decoupled ${decoupledWeightDecay}`,
      kernels: nadamFusedKernels({
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        momentumDecay: 0.004,
        decoupledWeightDecay,
      }),
      state: (n: number) => [randomValues(n, 13).map((x) => 0.1 * x), positive(n, 14, 0.01, 0)],
    })),
    {
      label: 'lion',
      kernels: lionFusedKernels({ beta1: 0.9, beta2: 0.99 }),
      state: (n: number) => [withZeros(randomValues(n, 15).map((x) => 0.1 * x))],
    },
  ];
  // The first update (SGD's momentum buffer starts as g) and a later one; sizes as for Adam.
  const otherRows = otherCases.flatMap((c) =>
    [1, 1001, 100_003].flatMap((n) => [1, 3].map((step) => ({ ...c, n, step }))),
  );
  it.skipIf(!native).each(otherRows)(
    '$label loops ≡ JS loops bit for bit: n $n, update $step',
    ({ kernels, state: makeState, n, step }) => {
      const threads = native!.threads();
      native!.setThreads(2);
      const ctx = { step, learningRate: 1e-2, weightDecay: 0.05 };
      const next = { a: 0.99, b: 0.03, completed: step };
      const start = () => ({
        theta: randomValues(n, 1),
        grad: withZeros(randomValues(n, 2)),
        state: makeState(n),
      });
      const run = (useNative: boolean) => {
        const kernel = useNative ? kernels.native!(native!) : kernels.js;
        const { theta, grad, state } = start();
        const predicted = new Float32Array(n);
        const prepared = new Float32Array(n);
        kernel.predict(theta, predicted, state, { a: 1.01, b: 0.02, completed: step });
        kernel.update(theta, grad, 0.7, state, ctx, { ...next, predicted: prepared });
        const check = new Float32Array(n);
        kernel.predict(theta, check, state, next);
        expectSameBits(prepared, check, 'prepared θ̂ vs predict');
        const over = start();
        kernel.update(over.theta, over.grad, 0.7, over.state, ctx, {
          ...next,
          predicted: over.grad,
        });
        expectSameBits(over.grad, prepared, 'θ̂ over the gradient');
        expectSameBits(over.theta, theta, 'θ with θ̂ over the gradient');
        over.state.forEach((x, k) => expectSameBits(x, state[k]!, `slot ${k} with θ̂ over g`));
        kernel.update(theta, grad, 1, state, { ...ctx, step: step + 1 });
        return [theta, predicted, prepared, ...state];
      };
      try {
        const ours = run(true);
        const js = run(false);
        const names = ['θ', 'predicted', 'prepared', ...ours.slice(3).map((_, k) => `slot ${k}`)];
        for (let k = 0; k < js.length; k++) expectSameBits(ours[k]!, js[k]!, names[k]!);
      } finally {
        native!.setThreads(threads);
      }
    },
  );

  it.skipIf(!native)('refuses momentum without its buffer, changing nothing', () => {
    const theta = new Float32Array(4).fill(1);
    const grad = new Float32Array(4).fill(1);
    expect(() =>
      native!.sgdUpdate(theta, grad, null, null, 1, 0, 0.1, 0.9, 0, false, true, 0, 0),
    ).toThrow(/sgdUpdate with momentum needs the momentum buffer/);
    expect(() =>
      native!.rmspropUpdate(theta, grad, grad, null, null, null, 1, 0, 0.1, 0.99, 1e-8, 0.9, 0, 0),
    ).toThrow(/rmspropUpdate with momentum needs the momentum buffer/);
    expect([...theta]).toEqual([1, 1, 1, 1]);
  });
});
