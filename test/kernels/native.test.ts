import { describe, expect, it } from 'vitest';
import { adamFusedKernels } from '../../src/kernels/fused/adam.js';
import { nativeKernels, nativeUnavailableReason } from '../../src/kernels/native.js';
import { randomValues } from './helpers.js';

/**
 * The native addon's Adam loops against the JS loops they replace: the same arithmetic operation
 * by operation, so the results must be bit-identical (the fixtures tests then cover both). Sizes
 * span one element, an odd size, and arrays large enough to be split across threads.
 */

const native = nativeKernels();

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
        expect(new Uint32Array(prepared.buffer)).toEqual(new Uint32Array(check.buffer));
        // The same update writing θ̂ over its gradient gives the same θ, state and θ̂.
        const over = start();
        kernel.update(over.theta, over.grad, 0.7, over.state, ctx, {
          ...next,
          predicted: over.grad,
        });
        expect(new Uint32Array(over.grad.buffer)).toEqual(new Uint32Array(prepared.buffer));
        expect(new Uint32Array(over.theta.buffer)).toEqual(new Uint32Array(theta.buffer));
        over.state.forEach((x, k) =>
          expect(new Uint32Array(x.buffer)).toEqual(new Uint32Array(state[k]!.buffer)),
        );
        kernel.update(theta, grad, 1, state, { ...ctx, step: 4 });
        return [theta, predicted, prepared, ...state].map((a) => new Uint32Array(a.buffer));
      };
      try {
        const ours = run(true);
        const js = run(false);
        for (let k = 0; k < js.length; k++) expect(ours[k]).toEqual(js[k]);
      } finally {
        native!.setThreads(threads);
      }
    },
  );
});
