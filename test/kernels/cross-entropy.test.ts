import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { classificationLoss, languageModelLoss } from '../../src/training/index.js';
import { expectClose, randomValues, rng } from './helpers.js';

/**
 * The fused sparse softmax cross-entropy (wasm with the native addon) against the stock one-hot +
 * softmaxCrossEntropy on the cpu backend: loss and logits gradient within 1e-5 (float32 sums in
 * a different order), NaN where the stock path gives NaN, memory flat.
 */

beforeAll(() => registerWasmTrainingKernels());
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('sparse softmax cross-entropy', () => {
  it.each([
    [1, 2],
    [7, 10],
    [33, 10_000],
    [128, 10],
  ])('matches the stock loss and gradient: %i rows × %i classes', async (rows, classes) => {
    const next = rng(rows * classes);
    const logits = randomValues(rows * classes, rows + classes).map((v) => 8 * v);
    // One row with huge logits: the log-sum-exp must not overflow.
    logits.fill(60, 0, Math.min(classes, 3));
    const labels = Int32Array.from({ length: rows }, () => Math.floor(next() * classes));
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const init = tf.tensor2d(logits, [rows, classes]);
      const z = tf.variable(init);
      init.dispose();
      const y = tf.tensor1d(labels, 'int32');
      const { value, grads } = tf.variableGrads(() => classificationLoss(z, y, classes), [z]);
      const out = {
        loss: value.dataSync()[0]!,
        grad: (grads[z.name]!.dataSync() as Float32Array).slice(),
      };
      tf.dispose([z, y, value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const reference = await run('cpu');
    const ours = await run('wasm');
    expect(Number.isFinite(ours.loss)).toBe(true);
    expect(Math.abs(ours.loss - reference.loss)).toBeLessThan(
      1e-5 * (1 + Math.abs(reference.loss)),
    );
    expectClose(ours.grad, reference.grad, 1e-5);
  });

  it('the language-model loss (3-D logits, int32 targets) matches the stock path', async () => {
    const [b, t, v] = [3, 5, 17];
    const logits = randomValues(b * t * v, 5);
    const targets = Int32Array.from({ length: b * t }, (_, i) => (i * 7) % v);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(
        () =>
          languageModelLoss(
            tf.tensor3d(logits, [b, t, v]),
            tf.tensor2d(targets, [b, t], 'int32'),
            v,
          ).dataSync()[0]!,
      );
    };
    expect(await run('wasm')).toBeCloseTo(await run('cpu'), 5);
  });

  it('gives NaN for NaN logits and for a label out of range, like the stock path', async () => {
    await tf.setBackend('wasm');
    const nanLoss = tf.tidy(
      () =>
        classificationLoss(
          tf.tensor2d([0, NaN, 1, 2], [2, 2]),
          tf.tensor1d([0, 1], 'int32'),
          2,
        ).dataSync()[0]!,
    );
    expect(nanLoss).toBeNaN();
    if (nativeKernels()) {
      const outOfRange = tf.tidy(
        () =>
          classificationLoss(
            tf.tensor2d([0, 1, 1, 2], [2, 2]),
            tf.tensor1d([0, 5], 'int32'),
            2,
          ).dataSync()[0]!,
      );
      expect(outOfRange).toBeNaN();
    }
  });
});

/**
 * The addon's kernels on their own, against float64 references: the vectorised exp
 * (native/vexp.h) over a sweep of its inputs, and rows with extreme logits. 37 classes (and
 * 2^22 + 5 in the sweep) so the 8-wide loops and their scalar tails both run.
 */
describe.skipIf(!nativeKernels())('the native cross-entropy kernels', () => {
  const native = nativeKernels()!;

  it('exponentiate within 1.8e-7 relative error over [-88, 0] (2^22 inputs)', () => {
    // Every 267th float32 bit pattern from −0 down to −88 (about 2^22 of the 1.1e9), and 5 more:
    // with lse = 0, scale 1 and no label in range the gradient is exp(logit) itself.
    const bits = new Uint32Array((1 << 22) + 5);
    const last = new Uint32Array(Float32Array.of(-88).buffer)[0]!;
    for (let i = 0; i < bits.length; i++) bits[i] = Math.min(0x80000000 + i * 267, last);
    const x = new Float32Array(bits.buffer);
    const e = new Float32Array(x.length);
    native.sparseSoftmaxCrossEntropyGrad(
      x,
      Int32Array.of(-1),
      Float32Array.of(0),
      e,
      1,
      x.length,
      1,
    );
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const exact = Math.exp(x[i]!);
      worst = Math.max(worst, Math.abs(e[i]! - exact) / exact);
    }
    expect(x.at(-1)).toBe(-88);
    expect(worst).toBeLessThanOrEqual(1.8e-7);
    // Edge cases: NaN passes through, −Inf and below the subnormals give 0.
    const edges = Float32Array.of(NaN, -Infinity, -104, -103.9, -87.5, -1e30, 0, -0);
    const out = new Float32Array(edges.length);
    native.sparseSoftmaxCrossEntropyGrad(
      edges,
      Int32Array.of(-1),
      Float32Array.of(0),
      out,
      1,
      edges.length,
      1,
    );
    expect(Array.from(out)).toEqual([
      NaN,
      0,
      0,
      1.401298464324817e-45,
      Math.fround(Math.exp(-87.5)),
      0,
      1,
      1,
    ]);
  });

  it('give the float64 loss and gradient on extreme rows, the same for any thread count', () => {
    const classes = 37;
    const next = rng(3);
    const row = (f: (c: number) => number) => Array.from({ length: classes }, (_, c) => f(c));
    const noise = () => next() * 2 - 1;
    const rows: number[][] = [
      row(() => noise() * 1e30), // huge spread: one class takes everything
      row(() => 1e30), // all equal and huge
      row(() => -1e30), // all equal and tiny
      row((c) => (c === 30 ? 60 : noise())), // one dominant class (in the scalar tail)
      row((c) => (c === 3 ? 60 : noise())), // one dominant class (in the vector part)
      row(() => noise() * 110), // terms down to e^-220: subnormal and zero exponentials
      row((c) => (c % 3 === 0 ? -Infinity : noise())), // masked classes
      row((c) => (c === 5 ? Infinity : noise())), // +Inf: NaN
      row((c) => (c === 33 ? NaN : noise())), // NaN in the tail: NaN
      row((c) => (c === 2 ? NaN : noise())), // NaN in the vector part: NaN
      row(() => -Infinity), // all −Inf: NaN
    ];
    const labels = Int32Array.from(rows, (_, r) => (r * 7 + 1) % classes);
    const z = Float32Array.from(rows.flat());
    const n = rows.length;
    const run = (threads: number) => {
      const before = native.threads();
      native.setThreads(threads);
      try {
        const lse = new Float32Array(n);
        const grad = new Float32Array(n * classes);
        const loss = native.sparseSoftmaxCrossEntropy(z, labels, lse, n, classes);
        native.sparseSoftmaxCrossEntropyGrad(z, labels, lse, grad, n, classes, 1);
        return { loss, lse, grad };
      } finally {
        native.setThreads(before);
      }
    };
    const ours = run(1);
    expect(run(2)).toEqual(ours);
    expect(ours.loss).toBeNaN(); // the NaN rows make the mean NaN, as the stock path does
    const refLses: number[] = [];
    for (let r = 0; r < n; r++) {
      const zr = Array.from(z.subarray(r * classes, (r + 1) * classes));
      const max = Math.max(...zr.map((v) => (Number.isNaN(v) ? -Infinity : v)));
      const refLse = max + Math.log(zr.reduce((s, v) => s + Math.exp(v - max), 0));
      refLses.push(refLse);
      const lse = ours.lse[r]!;
      if (Number.isNaN(refLse)) {
        expect(lse, `row ${r}`).toBeNaN();
        expect(ours.grad.subarray(r * classes, (r + 1) * classes).every(Number.isNaN)).toBe(true);
        continue;
      }
      expect(Math.abs(lse - refLse), `row ${r}`).toBeLessThanOrEqual(
        4e-7 * Math.max(1, Math.abs(refLse)),
      );
      for (let c = 0; c < classes; c++) {
        // The kernel's own lse and float32 difference, then exp in float64.
        const exact = Math.exp(Math.fround(zr[c]! - lse)) - (c === labels[r] ? 1 : 0);
        const g = ours.grad[r * classes + c]!;
        const tol = 2e-7 * Math.max(Math.abs(exact), c === labels[r] ? 1 : 0) + 1.5e-45;
        expect(Math.abs(g - exact), `row ${r}, class ${c}`).toBeLessThanOrEqual(tol);
      }
    }
    // Without the NaN rows the mean is finite and matches the float64 reference.
    const finite = 7;
    const lse = new Float32Array(finite);
    const loss = native.sparseSoftmaxCrossEntropy(z, labels, lse, finite, classes);
    let ref = 0;
    for (let r = 0; r < finite; r++) ref += refLses[r]! - z[r * classes + labels[r]!]!;
    expect(loss).toBeCloseTo(ref / finite, 5);
  });
});
