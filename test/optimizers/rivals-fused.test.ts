import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { createOptimizer } from '../../src/optimizers/index.js';
import { rng } from '../kernels/helpers.js';
import { onBothPaths, problemPair, stepBoth, values, worstRatio } from './helpers.js';

/**
 * The fused NAdam and Lion steps (kernels/fused/nadam.ts, lion.ts: single-pass JS loops on the
 * variables' storage) against their tf-ops rules for 100 steps, on cpu and wasm, with and without
 * prediction, clipping and weight decay (the fixture tests in rivals.test.ts run them against the
 * float64 reference on cpu). After each step the tf-ops optimizer is reset to the fused one's
 * weights and state, so every step is compared from the same inputs: free-running, last-bit
 * differences grow chaotically on this problem (a Lion sign flip near 0 moves θ by 2·lr; NAdam
 * measured 2.5e-4 apart after 77 steps), which says nothing about the loops.
 */

afterAll(async () => {
  await tf.setBackend('cpu');
});

const VARIANTS = [
  { name: 'nadam', options: { learningRate: 0.003, weightDecay: 0.05 } },
  {
    name: 'nadam',
    options: { learningRate: 0.003, weightDecay: 0.05, decoupledWeightDecay: true },
  },
  { name: 'lion', options: { learningRate: 0.001, weightDecay: 0.3 } },
] as const;

const rows = (['cpu', 'wasm'] as const).flatMap((backend) =>
  VARIANTS.flatMap((variant, v) =>
    [0, 1, 2].map((s) => ({
      backend,
      variant,
      s,
      label: `${backend} ${v}:${variant.name} s=${s}`,
    })),
  ),
);

describe('fused NAdam and Lion ≡ their tf-ops rules over 100 steps', () => {
  it.each(rows.map((r, i) => ({ ...r, i })))('$label', async ({ backend, variant, s, i }) => {
    const copy = (ws: { name: string; tensor: tf.Tensor }[]) =>
      ws.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    await tf.setBackend(backend);
    const next = rng(3000 + i);
    const dim = () => 1 + Math.floor(next() * 37);
    const shapes = [[dim(), dim()], [1], [dim() * 17 + 1]];
    const [p, ref] = problemPair(shapes, 4000 + i, 'rivalFused');
    const options = {
      ...variant.options,
      predictionSteps: s,
      ...(i % 2 === 1 && { clipGlobalNorm: 0.5 }),
    };
    const [fused, tfOps] = onBothPaths(() => createOptimizer(variant.name, options));
    fused.minimize(p.loss, false, p.vars);
    tfOps.minimize(ref.loss, false, ref.vars);
    let worst = 0;
    let where = '';
    for (let k = 1; k < 100; k++) {
      const { seen, after } = stepBoth(fused, tfOps, p, ref);
      p.vars.forEach((_, j) => {
        const ratio = Math.max(seen[j]!, after[j]!);
        if (ratio > worst) [worst, where] = [ratio, `var ${j} step ${k + 1}`];
      });
      if (k === 99) break; // the last step's state is compared below, unsynchronised
      // Resynchronise (the state names carry the variable names, which differ between the copies).
      const state = copy(await fused.getWeights());
      const renamed = state.map((w) => {
        const j = p.vars.findIndex((v) => w.name.startsWith(`${v.name}/`));
        return j < 0 ? w : { ...w, name: w.name.replace(p.vars[j]!.name, ref.vars[j]!.name) };
      });
      await tfOps.setWeights(renamed);
      tf.dispose(state.map((w) => w.tensor));
      tf.tidy(() => ref.vars.forEach((v, j) => v.assign(tf.tensor(values(p.vars[j]!), v.shape))));
    }
    expect(worst, `worst ${worst.toFixed(3)}× 1e-6 at ${where}`).toBeLessThanOrEqual(1);
    const [ws, wr] = [await fused.getWeights(), await tfOps.getWeights()];
    ws.forEach((w, j) => {
      expect(w.name.replace(/.*\//, '')).toBe(wr[j]!.name.replace(/.*\//, ''));
      expect(
        worstRatio(values(w.tensor), values(wr[j]!.tensor), 1e-6, 1e-6),
        w.name,
      ).toBeLessThanOrEqual(1);
    });
    fused.minimize(p.loss, false, p.vars);
    const tensors = tf.memory().numTensors;
    const storage = p.vars.map((v) => v.dataId);
    for (let k = 0; k < 20; k++) fused.minimize(p.loss, false, p.vars);
    expect(tf.memory().numTensors).toBe(tensors);
    // The fused loops really ran: they update the variables in place (tf ops make new buffers).
    expect(p.vars.every((v, j) => v.dataId === storage[j])).toBe(true);
    tf.dispose(
      [...ws, ...wr].filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor),
    );
    for (const o of [fused, tfOps, p, ref]) o.dispose();
  });
});
