import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  buildTransformerLanguageModel,
  countParameters,
  setDropoutSeed,
  TiedOutputProjection,
  weightNames,
  type TransformerLanguageModel,
  type TransformerLanguageModelOptions,
} from '../../src/models/index.js';
import {
  expectSameWeights,
  expectTrainingWorks,
  trainableVariables,
  trainWithAdam,
} from './helpers.js';
import { fixture, fixtureModel, relativeError } from './transformer-fixture.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny: TransformerLanguageModelOptions = {
  vocabSize: 20,
  width: 8,
  heads: 2,
  layers: 2,
  contextLength: 12,
  dropout: 0,
  seed: 1,
};

function randomTokens(batch: number, steps: number, vocab: number, seed: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf.cast(tf.floor(tf.randomUniform([batch, steps], 0, vocab, 'float32', seed)), 'int32'),
  ) as tf.Tensor2D;
}

function logitsOf(lm: TransformerLanguageModel, tokens: tf.Tensor, training = false): tf.Tensor {
  return lm.model.apply(tokens, { training }) as tf.Tensor;
}

/** Mean next-token cross-entropy: inputs tokens[:, :-1], targets tokens[:, 1:]. */
function lmLoss(lm: TransformerLanguageModel, tokens: tf.Tensor2D, training: boolean) {
  return () =>
    tf.tidy(() => {
      const [b, t] = tokens.shape;
      const inputs = tf.slice(tokens, [0, 0], [b, t - 1]);
      const targets = tf.reshape(tf.slice(tokens, [0, 1], [b, t - 1]), [-1]) as tf.Tensor1D;
      const flat = tf.reshape(logitsOf(lm, inputs, training), [-1, lm.vocabSize]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, lm.vocabSize), flat) as tf.Scalar;
    });
}

describe('buildTransformerLanguageModel', () => {
  it('maps [b, t] tokens to [b, t, vocab] logits, without leaking tensors', () => {
    const lm = buildTransformerLanguageModel(tiny);
    expect(lm.model.inputs.map((i) => i.shape)).toEqual([[null, null]]);
    expect(lm.zeroState(3)).toEqual([]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(logitsOf(lm, randomTokens(3, 7, 20, 1)).shape).toEqual([3, 7, 20]);
      expect(logitsOf(lm, randomTokens(2, 12, 20, 2), true).shape).toEqual([2, 12, 20]);
      expect(logitsOf(lm, randomTokens(1, 1, 20, 3)).shape).toEqual([1, 1, 20]);
    });
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });

  it('has the documented parameter count and weight names', () => {
    const { vocabSize: V, width: d, contextLength: T, layers: L } = tiny;
    const lm = buildTransformerLanguageModel(tiny);
    expect(countParameters(lm.model)).toBe(V * d + T * d + L * (12 * d * d + 13 * d) + 2 * d);
    expect(weightNames(lm.model)).toEqual([
      'embedding/embeddings',
      'positions/embeddings',
      ...[1, 2].flatMap((k) =>
        [
          'ln1_gamma',
          'ln1_beta',
          'attn_kernel',
          'attn_bias',
          'proj_kernel',
          'proj_bias',
          'ln2_gamma',
          'ln2_beta',
          'fc_kernel',
          'fc_bias',
          'out_kernel',
          'out_bias',
        ].map((w) => `block${k}/${w}`),
      ),
      'ln_f/gamma',
      'ln_f/beta',
    ]);
    const bench = buildTransformerLanguageModel({
      ...tiny,
      vocabSize: 10_000,
      width: 128,
      heads: 4,
      layers: 4,
      contextLength: 128,
    });
    expect(countParameters(bench.model)).toBe(2_089_728);
    [lm, bench].forEach((m) => m.model.dispose());
  });

  it('computes what the float64 PyTorch twin computes: logits, loss and every gradient', () => {
    const { lm, loss, tokens, dispose } = fixtureModel();
    expect(countParameters(lm.model)).toBe(fixture.parameters);
    const logits = tf.tidy(() => logitsOf(lm, tokens).dataSync());
    // float32 against float64 through 2 blocks, cpu backend: measured 3.5e-7 relative, allowed 2e-6.
    expect(relativeError(logits, fixture.logits)).toBeLessThan(2e-6);
    const variables = trainableVariables(lm.model);
    const { value, grads } = tf.variableGrads(loss, variables);
    expect(Math.abs((value.dataSync()[0] as number) - fixture.loss)).toBeLessThan(1e-6); // 2.2e-7
    const names = weightNames(lm.model);
    variables.forEach((v, i) => {
      const reference = fixture.grads[names[i]!]!;
      // Measured 1e-7 … 1.4e-6 (largest: block1/ln2_gamma), allowed 1e-5.
      expect(relativeError(grads[v.name]!.dataSync(), reference), names[i]).toBeLessThan(1e-5);
    });
    tf.dispose([value, ...Object.values(grads)]);
    dispose();
  });

  it('is causal: changing a later token leaves every earlier position’s logits unchanged', () => {
    const lm = buildTransformerLanguageModel({ ...tiny, seed: 5 });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const tokens = randomTokens(2, 10, 20, 4);
      const values = tokens.arraySync();
      for (const changed of [0, 4, 9]) {
        const edited = values.map((row) => row.map((v, i) => (i === changed ? (v + 7) % 20 : v)));
        const a = logitsOf(lm, tokens).arraySync() as number[][][];
        const b = logitsOf(lm, tf.tensor2d(edited, undefined, 'int32')).arraySync() as number[][][];
        for (let row = 0; row < 2; row++) {
          for (let pos = 0; pos < 10; pos++) {
            const diff = Math.max(...a[row]![pos]!.map((x, k) => Math.abs(x - b[row]![pos]![k]!)));
            if (pos < changed) expect(diff, `row ${row} pos ${pos} changed ${changed}`).toBe(0);
            else expect(diff, `row ${row} pos ${pos} changed ${changed}`).toBeGreaterThan(1e-6);
          }
        }
      }
    });
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });

  it('survives a save / load round trip (custom layers registered, embedding tied)', async () => {
    const lm = buildTransformerLanguageModel({ ...tiny, dropout: 0.1, seed: 2 });
    let saved: tf.io.ModelArtifacts | undefined;
    await lm.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    expect(weightNames(loaded)).toEqual(weightNames(lm.model));
    expectSameWeights(loaded, lm.model);
    tf.tidy(() => {
      const tokens = randomTokens(2, 9, 20, 5);
      const a = lm.model.predict(tokens) as tf.Tensor;
      const b = loaded.predict(tokens) as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
      const projection = loaded.getLayer('logits') as TiedOutputProjection;
      expect(projection.embeddingMatrix()).toBe(
        loaded.getLayer('embedding').trainableWeights[0]?.read(),
      );
    });
    lm.model.dispose();
    loaded.dispose();
  });

  it('is reproducible from its seed', () => {
    const a = buildTransformerLanguageModel({ ...tiny, seed: 9 });
    const b = buildTransformerLanguageModel({ ...tiny, seed: 9 });
    expectSameWeights(a.model, b.model);
    [a, b].forEach((lm) => lm.model.dispose());
  });

  it.each([0, 0.1])('trains with Adam on random tokens (dropout %s), tensors flat', (dropout) => {
    setDropoutSeed(2);
    const lm = buildTransformerLanguageModel({ ...tiny, dropout, seed: 3 });
    const tokens = randomTokens(4, 9, 20, 7);
    const result = trainWithAdam(trainableVariables(lm.model), lmLoss(lm, tokens, true), 40, 0.01);
    expectTrainingWorks(result, 0.7);
    tokens.dispose();
    lm.model.dispose();
  });

  it('rejects bad options and over-long windows with clear errors', () => {
    expect(() => buildTransformerLanguageModel({ ...tiny, heads: 3 })).toThrow(
      /heads \(3\) must divide width \(8\): pick e.g. heads 2/,
    );
    expect(() => buildTransformerLanguageModel({ ...tiny, heads: 3 })).toThrow(UserInputError);
    expect(() => buildTransformerLanguageModel({ ...tiny, layers: 0 })).toThrow(/layers/);
    expect(() => buildTransformerLanguageModel({ ...tiny, contextLength: 1.5 })).toThrow(
      /contextLength/,
    );
    expect(() => buildTransformerLanguageModel({ ...tiny, dropout: 1 })).toThrow(UserInputError);
    const lm = buildTransformerLanguageModel(tiny);
    const before = tf.memory().numTensors;
    const tokens = randomTokens(1, 13, 20, 1);
    expect(() => logitsOf(lm, tokens)).toThrow(
      /window of 13 tokens is longer than the model's context of 12/,
    );
    tokens.dispose();
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });
});
