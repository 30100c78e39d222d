import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { weightNames } from '../../src/models/index.js';
import { trainableVariables } from './helpers.js';
import { fixture, fixtureModel, relativeError } from './transformer-fixture.js';

beforeAll(async () => {
  registerWasmTrainingKernels(); // the stock wasm backend lacks the embedding gradient
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('the Transformer LM on the wasm backend (with the native addon when it is built)', () => {
  it('computes what the float64 PyTorch twin computes, and trains with tensors flat', () => {
    const { lm, loss, tokens, dispose } = fixtureModel();
    const logits = tf.tidy(() => (lm.model.apply(tokens) as tf.Tensor).dataSync());
    // Same tolerances as on the cpu backend (transformer.test.ts).
    expect(relativeError(logits, fixture.logits)).toBeLessThan(2e-6);
    const variables = trainableVariables(lm.model);
    const names = weightNames(lm.model);
    const { value, grads } = tf.variableGrads(loss, variables);
    expect(Math.abs((value.dataSync()[0] as number) - fixture.loss)).toBeLessThan(1e-6);
    variables.forEach((v, i) => {
      const reference = fixture.grads[names[i]!]!;
      expect(relativeError(grads[v.name]!.dataSync(), reference), names[i]).toBeLessThan(1e-5);
    });
    tf.dispose([value, ...Object.values(grads)]);

    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 30; step++) {
      const cost = optimizer.minimize(loss, true, variables) as tf.Scalar;
      losses.push(cost.dataSync()[0] as number);
      cost.dispose();
      counts.push(tf.memory().numTensors);
    }
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]!);
    expect(new Set(counts.slice(1)).size, `tensor counts ${counts}`).toBe(1);
    optimizer.dispose();
    dispose();
  });
});
