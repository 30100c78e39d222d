import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import {
  buildTransformerLanguageModel,
  weightNames,
  type TransformerLanguageModel,
  type TransformerLanguageModelOptions,
} from '../../src/models/index.js';

/** Written by tools/reference/make_transformer_fixture.py (float64 PyTorch, bench/torch_gpt.py). */
interface TransformerFixture {
  config: Omit<TransformerLanguageModelOptions, 'dropout' | 'seed'>;
  parameters: number;
  tokens: number[][];
  targets: number[][];
  weights: Record<string, number[]>;
  shapes: Record<string, number[]>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}
export const fixture = JSON.parse(
  fs.readFileSync(new URL('../fixtures/transformer.json', import.meta.url), 'utf8'),
) as TransformerFixture;

/** The fixture's model with its weights, and the loss on its tokens and targets. */
export function fixtureModel(): {
  lm: TransformerLanguageModel;
  loss: () => tf.Scalar;
  tokens: tf.Tensor2D;
  dispose: () => void;
} {
  const lm = buildTransformerLanguageModel({ ...fixture.config, dropout: 0, seed: 1 });
  expect(weightNames(lm.model)).toEqual(Object.keys(fixture.weights));
  lm.model.setWeights(
    lm.model.weights.map((w) => tf.tensor(fixture.weights[w.originalName]!, w.shape as number[])),
  );
  const tokens = tf.tensor2d(fixture.tokens, undefined, 'int32');
  const targets = tf.tensor1d(fixture.targets.flat(), 'int32');
  const loss = () =>
    tf.tidy(() => {
      const flat = tf.reshape(lm.model.apply(tokens) as tf.Tensor, [-1, lm.vocabSize]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, lm.vocabSize), flat) as tf.Scalar;
    });
  return {
    lm,
    loss,
    tokens,
    dispose: () => {
      tf.dispose([tokens, targets]);
      lm.model.dispose();
    },
  };
}

/** Largest |a − b| over the largest |b|: a relative error that ignores tiny entries' noise. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}
