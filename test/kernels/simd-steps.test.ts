/**
 * The WebAssembly SIMD optimizer loops (wasm/steps.c, src/kernels/simd/): what they may touch,
 * bit-identity with the JS loops (so, through those loops' own tests, with the tf-ops step and
 * the float64 fixtures), and their use by the optimizers on the wasm backend without the addon.
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAcceleratorEnabled } from '../../src/accelerator.js';
import { adamFusedKernels } from '../../src/kernels/fused/adam.js';
import { setSimdStepsEnabled, simdSteps, type SimdSteps } from '../../src/kernels/simd/index.js';
import { STEPS_MODULE_BASE64 } from '../../src/kernels/simd/steps-module.js';
import { AdamW, Adam } from '../../src/index.js';
import { sumOfSquaresLoop } from '../../src/prediction/fused/steps.js';
import type { FusedRuleKernel } from '../../src/prediction/fused/types.js';
import type { UpdateContext } from '../../src/rules/types.js';
import { rng } from './helpers.js';

/** The WebAssembly API members used here (the compile's ES library declares none). */
declare const WebAssembly: {
  Module: {
    new (bytes: Uint8Array): object;
    imports(module: object): { module: string; name: string; kind: string }[];
    exports(module: object): { name: string; kind: string }[];
  };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { exports: object };
};

const moduleBytes = () => Uint8Array.from(atob(STEPS_MODULE_BASE64), (c) => c.charCodeAt(0));

beforeAll(async () => {
  await tf.setBackend('wasm');
});

afterAll(() => {
  setAcceleratorEnabled(true);
  setSimdStepsEnabled(true);
});

describe('the module', () => {
  it('imports only a memory and exports the loops', () => {
    const module = new WebAssembly.Module(moduleBytes());
    expect(WebAssembly.Module.imports(module)).toEqual([
      { module: 'env', name: 'memory', kind: 'memory' },
    ]);
    expect(
      WebAssembly.Module.exports(module)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['adam_predict', 'adam_update', 'sum_of_squares']);
  });

  it('writes nothing outside the arrays it is given (it runs on the wasm backend heap)', () => {
    // A fresh memory of its own, every byte a sentinel; the loops run on arrays in its middle.
    const memory = new WebAssembly.Memory({ initial: 4 });
    const bytes = new Uint8Array(memory.buffer);
    bytes.fill(0xa5);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), {
      env: { memory },
    });
    const steps = { memory, ...instance.exports } as unknown as SimdSteps;
    const n = 1003;
    const base = 100_000; // bytes; the arrays are contiguous from here
    const arrays = Array.from({ length: 6 }, (_, k) => {
      const a = new Float32Array(memory.buffer, base + k * n * 4, n);
      a.fill(0.5 + k);
      return a;
    });
    const [theta, grad, m, v, vMax, out] = arrays as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const at = (a: Float32Array) => a.byteOffset;
    steps.adam_update(
      at(theta),
      at(grad),
      at(m),
      at(v),
      at(vMax),
      at(out),
      n,
      1,
      0,
      0.9,
      0.999,
      0.1,
      0.001,
      0.99,
      0.01,
      1,
      1e-8,
      1,
      0.02,
      1,
    );
    steps.adam_update(
      at(theta),
      at(grad),
      at(m),
      at(v),
      0,
      at(grad),
      n,
      1,
      0,
      0.9,
      0.999,
      0.1,
      0.001,
      0.99,
      0.01,
      1,
      1e-8,
      1,
      0.01,
      1,
    );
    steps.adam_predict(at(theta), at(out), at(m), at(v), n, 1, 0.01, 1, 1e-8);
    expect(steps.sum_of_squares(at(grad), n)).toBeGreaterThan(0);
    const end = base + 6 * n * 4;
    const outside = [...bytes.subarray(0, base), ...bytes.subarray(end)];
    expect(outside.every((b) => b === 0xa5)).toBe(true);
    // ...and it did write inside them.
    expect(theta[0]).not.toBe(0.5);
  });
});

/** Arrays in the wasm backend's heap (tensors kept until the end of the test). */
function heapArrays(count: number, n: number, next: () => number) {
  const tensors = Array.from({ length: count }, () =>
    tf.tensor1d(Float32Array.from({ length: n }, next)),
  );
  const backend = tf.backend() as unknown as {
    dataIdMap: { get(id: object): { memoryOffset: number } };
    wasm: { HEAPU8: Uint8Array };
  };
  const views = () =>
    tensors.map(
      (t) =>
        new Float32Array(
          backend.wasm.HEAPU8.buffer,
          backend.dataIdMap.get(t.dataId).memoryOffset,
          n,
        ),
    );
  return { tensors, views };
}

/**
 * The bits of each value, every NaN as one (wasm and x86 make NaNs with the sign bit set, V8's
 * Float32Array stores of JS NaNs clear it: a NaN's sign and payload carry no meaning here).
 */
const bits = (a: Float32Array) =>
  Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, i) =>
    Number.isNaN(a[i]) ? 'NaN' : b,
  );

/** Values with NaN, ±Infinity and zeros among them, from a seeded generator. */
function values(seed: number) {
  const next = rng(seed);
  const value = () => {
    const u = next();
    if (u < 0.01) return NaN;
    if (u < 0.02) return u < 0.015 ? Infinity : -Infinity;
    if (u < 0.04) return 0;
    return (next() - 0.5) * 4;
  };
  return { value, positive: () => Math.abs(value()) };
}

describe('bit for bit the JS loops', () => {
  const cases: { amsgrad: boolean; target: 'none' | 'separate' | 'gradient'; share: boolean }[] =
    [];
  for (const amsgrad of [false, true])
    for (const target of ['none', 'separate', 'gradient'] as const)
      for (const share of [false, true]) cases.push({ amsgrad, target, share });

  it.each(cases.map((c, i) => ({ ...c, i })))(
    'Adam update then predict, amsgrad $amsgrad, θ̂ into $target, shared step term $share',
    ({ amsgrad, target, share, i }) => {
      const kernels = adamFusedKernels({
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        amsgrad,
        decoupledWeightDecay: i % 2 === 0,
      });
      const simd = kernels.simd!();
      expect(simd).not.toBeNull();
      const ctx = { step: 3 + i, learningRate: 0.01, weightDecay: 0.05 } as UpdateContext;
      // With a = 1 and b = lr, θ̂'s step term is the update's own (the shared-term loop).
      const nextScalars = share
        ? { a: 1, b: 0.01, completed: 3 + i }
        : { a: 0.9995, b: 0.02, completed: 3 + i };
      // Lengths around the 4-lane loop's tail.
      for (const n of [1, 3, 4, 5, 37, 1024 + 3]) {
        const run = (kernel: FusedRuleKernel) => {
          const { value, positive } = values(100 * i + n);
          const { tensors, views } = heapArrays(6, n, value);
          const [theta, grad, m, v, vMax, out] = views() as [
            Float32Array,
            Float32Array,
            Float32Array,
            Float32Array,
            Float32Array,
            Float32Array,
          ];
          v.set(Float32Array.from({ length: n }, positive));
          vMax.set(Float32Array.from({ length: n }, positive));
          const predicted = target === 'none' ? undefined : target === 'gradient' ? grad : out;
          const state = amsgrad ? [m, v, vMax] : [m, v];
          kernel.update(theta, grad, 0.75, state, ctx, predicted && { ...nextScalars, predicted });
          const afterUpdate = views().map(bits);
          kernel.predict(theta, out, state, { a: 0.999, b: 0.03, completed: 4 + i });
          const result = [...afterUpdate, bits(views()[5]!)];
          tf.dispose(tensors);
          return result;
        };
        const fromJs = run(kernels.js);
        const fromSimd = run(simd!.rule);
        expect(fromSimd).toEqual(fromJs);
      }
    },
  );

  it("Σx² in float64, in the JS loop's order", () => {
    for (const n of [0, 1, 3, 4, 5, 1000 + 3]) {
      const { tensors, views } = heapArrays(1, n, values(n).value);
      const x = views()[0]!;
      for (let k = 0; k < n; k++) if (!Number.isFinite(x[k]!)) x[k] = k;
      const simd = adamFusedKernels({
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        amsgrad: false,
        decoupledWeightDecay: true,
      }).simd!()!;
      expect(Object.is(simd.sumOfSquares(x), sumOfSquaresLoop(x))).toBe(true);
      // An array outside the heap is left to the JS loop.
      expect(simd.sumOfSquares(Float32Array.from(x))).toBeNull();
      tf.dispose(tensors);
    }
  });
});

describe('the optimizers on wasm without the addon', () => {
  it("'auto' takes the SIMD loops (in place), 'tfjs' and SIMD off do not", () => {
    setAcceleratorEnabled(false);
    const inPlace = (configure: (o: AdamW) => void) => {
      const w = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 3));
      const optimizer = new AdamW({ learningRate: 0.01, predictionSteps: 1 });
      configure(optimizer);
      const loss = () => w.square().sum() as tf.Scalar;
      optimizer.minimize(loss);
      const dataId = w.dataId;
      optimizer.minimize(loss);
      optimizer.minimize(loss);
      const result = w.dataId === dataId;
      optimizer.dispose();
      w.dispose();
      return result;
    };
    expect(simdSteps()).not.toBeNull();
    expect(inPlace(() => {})).toBe(true);
    expect(inPlace((o) => (o.kernel = 'tfjs'))).toBe(false);
    setSimdStepsEnabled(false);
    expect(inPlace(() => {})).toBe(false);
    setSimdStepsEnabled(true);
    setAcceleratorEnabled(true);
  });

  // SIMD ('auto') against JS loops ('fused' with SIMD off): the same bits after every step.
  it.each([
    { name: 'adamw', s: 0, amsgrad: false, clip: false },
    { name: 'adamw', s: 1, amsgrad: false, clip: true },
    { name: 'adamw', s: 2, amsgrad: true, clip: false },
    { name: 'adam', s: 1, amsgrad: false, clip: false },
  ] as const)(
    '$name s=$s amsgrad=$amsgrad clip=$clip over 30 steps',
    ({ name, s, amsgrad, clip }) => {
      setAcceleratorEnabled(false);
      const make = () => {
        const next = rng(7);
        const w = tf.variable(
          tf.tensor2d(
            Float32Array.from({ length: 37 * 5 }, () => next() - 0.5),
            [37, 5],
          ),
        );
        const b = tf.variable(tf.tensor1d(Float32Array.from({ length: 5 }, () => next() - 0.5)));
        const x = tf.tensor2d(
          Float32Array.from({ length: 8 * 37 }, () => next() * 2 - 1),
          [8, 37],
        );
        const Optimizer = name === 'adamw' ? AdamW : Adam;
        const optimizer = new Optimizer({
          learningRate: 0.01,
          weightDecay: 0.01,
          predictionSteps: s,
          amsgrad,
          ...(clip && { clipGlobalNorm: 0.1 }),
        });
        const loss = () => x.matMul(w).add(b).tanh().square().mean() as tf.Scalar;
        return { w, b, x, optimizer, loss };
      };
      const simd = make();
      const js = make();
      js.optimizer.kernel = 'fused';
      let numTensors = 0;
      for (let step = 0; step < 30; step++) {
        simd.optimizer.minimize(simd.loss);
        setSimdStepsEnabled(false);
        js.optimizer.minimize(js.loss);
        setSimdStepsEnabled(true);
        expect(bits(simd.w.dataSync() as Float32Array)).toEqual(
          bits(js.w.dataSync() as Float32Array),
        );
        expect(bits(simd.b.dataSync() as Float32Array)).toEqual(
          bits(js.b.dataSync() as Float32Array),
        );
        if (step === 1) numTensors = tf.memory().numTensors;
      }
      // No leak: state and spare buffers were made in the first steps, nothing since.
      expect(tf.memory().numTensors).toBe(numTensors);
      for (const p of [simd, js]) {
        p.optimizer.dispose();
        tf.dispose([p.w, p.b, p.x]);
      }
      setAcceleratorEnabled(true);
    },
  );
});

describe('the committed module', () => {
  const clang = spawnSync('clang', ['--version']).status === 0;
  it.skipIf(!clang)('is what wasm/steps.c builds to (needs clang and lld; skipped without)', () => {
    const result = spawnSync(process.execPath, ['scripts/build-wasm-steps.mjs', '--check'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
