import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  buildLstmLanguageModel,
  countParameters,
  ExplicitStateLstm,
  LstmOutput,
  getDropoutState,
  setDropoutSeed,
  setDropoutState,
  TiedOutputProjection,
  weightNames,
  type LstmLanguageModelOptions,
  type RecurrentLanguageModel,
} from '../../src/models/index.js';
import {
  expectDifferentRandomWeights,
  expectSameWeights,
  expectTrainingWorks,
  trainableVariables,
  trainWithAdam,
} from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny: LstmLanguageModelOptions = {
  vocabSize: 20,
  embeddingSize: 8,
  hiddenSize: 8,
  layers: 2,
  dropout: 0,
  tieWeights: false,
  seed: 1,
};

function randomTokens(batch: number, steps: number, vocab: number, seed: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf.cast(tf.floor(tf.randomUniform([batch, steps], 0, vocab, 'float32', seed)), 'int32'),
  ) as tf.Tensor2D;
}

/** Runs the model on tokens from `state`; returns [logits, ...finalState]. */
function run(lm: RecurrentLanguageModel, tokens: tf.Tensor, state: tf.Tensor[], training = false) {
  return lm.model.apply([tokens, ...state], { training }) as tf.Tensor[];
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Mean next-token cross-entropy of the model on `tokens` (inputs tokens[:, :-1]). */
function lmLoss(lm: RecurrentLanguageModel, tokens: tf.Tensor2D, training: boolean) {
  return () =>
    tf.tidy(() => {
      const [b, t] = tokens.shape;
      const inputs = tf.slice(tokens, [0, 0], [b, t - 1]);
      const targets = tf.reshape(tf.slice(tokens, [0, 1], [b, t - 1]), [-1]) as tf.Tensor1D;
      const [logits] = run(lm, inputs, lm.zeroState(b), training);
      const flat = tf.reshape(logits as tf.Tensor, [-1, lm.vocabSize]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, lm.vocabSize), flat) as tf.Scalar;
    });
}

describe('buildLstmLanguageModel', () => {
  it.each([1, 2, 3])('has the state in/out contract (%s layers)', (layers) => {
    const lm = buildLstmLanguageModel({ ...tiny, layers });
    expect(lm.layers).toBe(layers);
    expect(lm.model.inputs.map((i) => i.shape)).toEqual([
      [null, null],
      ...Array.from({ length: 2 * layers }, () => [null, 8]),
    ]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const zeros = lm.zeroState(3);
      expect(zeros).toHaveLength(2 * layers);
      const [logits, ...state] = run(lm, randomTokens(3, 5, 20, 1), zeros);
      expect(logits?.shape).toEqual([3, 5, 20]);
      expect(state.map((s) => s.shape)).toEqual(zeros.map(() => [3, 8]));
    });
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });

  it.each([1, 2, 3])(
    'carrying the state across two windows equals one pass over both (%s layers)',
    (layers) => {
      const lm = buildLstmLanguageModel({ ...tiny, layers, seed: 4 });
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const tokens = randomTokens(3, 10, 20, 2);
        const [whole, ...wholeState] = run(lm, tokens, lm.zeroState(3));
        const [first, ...mid] = run(lm, tf.slice(tokens, [0, 0], [3, 4]), lm.zeroState(3));
        const [second, ...end] = run(lm, tf.slice(tokens, [0, 4], [3, 6]), mid);
        const joined = tf.concat([first as tf.Tensor, second as tf.Tensor], 1);
        expect(maxAbsDiff(joined, whole as tf.Tensor)).toBeLessThan(1e-5);
        end.forEach((s, i) => expect(maxAbsDiff(s, wholeState[i] as tf.Tensor)).toBeLessThan(1e-5));
        // The state matters: restarting window 2 from zeros gives different logits.
        const [restarted] = run(lm, tf.slice(tokens, [0, 4], [3, 6]), lm.zeroState(3));
        expect(maxAbsDiff(restarted as tf.Tensor, second as tf.Tensor)).toBeGreaterThan(1e-4);
      });
      expect(tf.memory().numTensors).toBe(before);
      lm.model.dispose();
    },
  );

  it('runs the same cell as the stock LSTM with sigmoid gates', () => {
    const layer = new ExplicitStateLstm({ units: 6, initLimit: 0.5, seeds: [1, 2, 3] });
    const stock = tf.layers.lstm({
      units: 6,
      recurrentActivation: 'sigmoid',
      returnSequences: true,
      returnState: true,
    });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 4], 0, 1, 'float32', 1);
      const h0 = tf.randomNormal([2, 6], 0, 1, 'float32', 2);
      const c0 = tf.randomNormal([2, 6], 0, 1, 'float32', 3);
      const packed = layer.apply([x, h0, c0]) as tf.Tensor;
      // First call builds the stock layer with its own random weights.
      const [seq] = stock.apply(x, { initialState: [h0, c0] }) as tf.Tensor[];
      stock.setWeights(layer.getWeights());
      const [seq2, h2, c2] = stock.apply(x, { initialState: [h0, c0] }) as tf.Tensor[];
      expect(maxAbsDiff(seq as tf.Tensor, seq2 as tf.Tensor)).toBeGreaterThan(1e-3); // weights set
      const part = (p: 'sequence' | 'h' | 'c') =>
        new LstmOutput({ part: p }).apply(packed) as tf.Tensor;
      expect(maxAbsDiff(part('sequence'), seq2 as tf.Tensor)).toBeLessThan(1e-5);
      expect(maxAbsDiff(part('h'), h2 as tf.Tensor)).toBeLessThan(1e-5);
      expect(maxAbsDiff(part('c'), c2 as tf.Tensor)).toBeLessThan(1e-5);
    });
    layer.dispose();
    stock.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs every layer once per forward pass, in training mode too', () => {
    const lm = buildLstmLanguageModel({ ...tiny, layers: 3, dropout: 0.2 });
    const calls = new Map<string, number>();
    for (const layer of lm.model.layers) {
      const call = layer.call.bind(layer);
      layer.call = (inputs, kwargs) => {
        calls.set(layer.name, (calls.get(layer.name) ?? 0) + 1);
        return call(inputs, kwargs);
      };
    }
    tf.tidy(() => {
      const inputs = [randomTokens(2, 4, 20, 1), ...lm.zeroState(2)];
      lm.model.apply(inputs, { training: true });
      lm.model.predict(inputs);
    });
    expect(calls.get('lstm1')).toBe(2);
    expect([...calls.values()].every((n) => n === 2)).toBe(true);
    lm.model.dispose();
  });

  it('has the documented parameter counts (Zaremba small: V 10k, 200 units, 2 layers)', () => {
    const small = { ...tiny, vocabSize: 10_000, embeddingSize: 200, hiddenSize: 200 };
    const untied = buildLstmLanguageModel(small);
    const lstm = 4 * 200 * (200 + 200) + 4 * 200;
    expect(countParameters(untied.model)).toBe(10_000 * 200 + 2 * lstm + 200 * 10_000 + 10_000);
    expect(countParameters(untied.model)).toBe(4_651_600);
    const tied = buildLstmLanguageModel({ ...small, tieWeights: true });
    expect(countParameters(tied.model)).toBe(2_651_600);
    expect(countParameters(tied.model, 'all')).toBe(2_651_600);
    const three = buildLstmLanguageModel({ ...tiny, layers: 3, embeddingSize: 5 });
    expect(countParameters(three.model)).toBe(
      20 * 5 + (32 * (5 + 8) + 32) + 2 * (32 * 16 + 32) + 8 * 20 + 20,
    );
    [untied, tied, three].forEach((lm) => lm.model.dispose());
  });

  it('is reproducible from its seed, with stable names', () => {
    const a = buildLstmLanguageModel({ ...tiny, dropout: 0.5, seed: 9 });
    const b = buildLstmLanguageModel({ ...tiny, dropout: 0.5, seed: 9 });
    const c = buildLstmLanguageModel({ ...tiny, dropout: 0.5, seed: 10 });
    expectSameWeights(a.model, b.model);
    expectDifferentRandomWeights(a.model, c.model);
    expect(weightNames(b.model)).toEqual([
      'embedding/embeddings',
      'lstm1/kernel',
      'lstm1/recurrent_kernel',
      'lstm1/bias',
      'lstm2/kernel',
      'lstm2/recurrent_kernel',
      'lstm2/bias',
      'logits/kernel',
      'logits/bias',
    ]);
    expect(a.model.layers.map((l) => l.name)).toEqual(b.model.layers.map((l) => l.name));
    expect(a.model.layers.map((l) => l.name)).toContain('dropout2');
    [a, b, c].forEach((lm) => lm.model.dispose());
  });

  it('rejects bad options with UserInputError', () => {
    expect(() => buildLstmLanguageModel({ ...tiny, embeddingSize: 6, tieWeights: true })).toThrow(
      /tieWeights needs embeddingSize == hiddenSize.*6.*8/,
    );
    expect(() => buildLstmLanguageModel({ ...tiny, layers: 4 })).toThrow(
      /layers must be 1, 2 or 3/,
    );
    expect(() => buildLstmLanguageModel({ ...tiny, dropout: -0.1 })).toThrow(UserInputError);
    expect(() => buildLstmLanguageModel({ ...tiny, vocabSize: 0 })).toThrow(/vocabSize/);
    const lm = buildLstmLanguageModel(tiny);
    expect(() => lm.zeroState(0)).toThrow(/batchSize/);
    lm.model.dispose();
  });

  describe('tied weights', () => {
    it('use one variable for the embedding and the output projection', () => {
      const lm = buildLstmLanguageModel({ ...tiny, tieWeights: true });
      const names = weightNames(lm.model);
      expect(names).toContain('embedding/embeddings');
      expect(names).toContain('logits/bias');
      expect(names).not.toContain('logits/kernel');
      const projection = lm.model.getLayer('logits') as TiedOutputProjection;
      expect(projection).toBeInstanceOf(TiedOutputProjection);
      const embedding = lm.model.getLayer('embedding').trainableWeights[0]?.read();
      expect(projection.embeddingMatrix()).toBe(embedding);
      lm.model.dispose();
    });

    it('send the output projection gradient into the embedding matrix', () => {
      // Token 19 never appears in the input, so its embedding row gets gradient only through
      // the output projection: non-zero when tied, zero when not.
      const tokens = tf.tidy(() =>
        tf.concat([randomTokens(2, 6, 19, 3), tf.fill([2, 1], 19, 'int32')], 1),
      ) as tf.Tensor2D;
      const rowGrad = (tieWeights: boolean) => {
        const lm = buildLstmLanguageModel({ ...tiny, tieWeights });
        const variable = lm.model.getLayer('embedding').trainableWeights[0]?.read() as tf.Variable;
        const { grads, value } = tf.variableGrads(lmLoss(lm, tokens, false), [variable]);
        const g = grads[variable.name] as tf.Tensor;
        const row = tf.tidy(() => tf.sum(tf.abs(tf.slice(g, [19, 0], [1, 8]))).dataSync()[0]);
        const used = tf.tidy(() => tf.sum(tf.abs(tf.slice(g, [0, 0], [19, 8]))).dataSync()[0]);
        tf.dispose([g, value]);
        lm.model.dispose();
        return { row, used };
      };
      const before = tf.memory().numTensors;
      const tied = rowGrad(true);
      const untied = rowGrad(false);
      expect(tf.memory().numTensors).toBe(before);
      expect(tied.row).toBeGreaterThan(1e-4);
      expect(untied.row).toBe(0);
      expect(untied.used).toBeGreaterThan(0);
      tokens.dispose();
    });

    it('survive a save / load round trip (custom layers registered)', async () => {
      const lm = buildLstmLanguageModel({ ...tiny, tieWeights: true, dropout: 0.3 });
      let saved: tf.io.ModelArtifacts | undefined;
      await lm.model.save(
        tf.io.withSaveHandler(async (artifacts) => {
          saved = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
      expect(weightNames(loaded)).toEqual(weightNames(lm.model));
      expect(loaded.getLayer('logits')).toBeInstanceOf(TiedOutputProjection);
      tf.tidy(() => {
        const inputs = [randomTokens(2, 4, 20, 5), ...lm.zeroState(2)];
        const a = lm.model.predict(inputs) as tf.Tensor[];
        const b = loaded.predict(inputs) as tf.Tensor[];
        a.forEach((t, i) => expect(maxAbsDiff(t, b[i] as tf.Tensor)).toBe(0));
        // The loaded projection found and reads the loaded model's own embedding variable.
        const projection = loaded.getLayer('logits') as TiedOutputProjection;
        expect(projection.embeddingMatrix()).toBe(
          loaded.getLayer('embedding').trainableWeights[0]?.read(),
        );
      });
      lm.model.dispose();
      loaded.dispose();
    });
  });

  it.each([false, true])(
    'trains with Adam on random tokens (tied %s), tensors flat',
    (tieWeights) => {
      setDropoutSeed(2);
      const lm = buildLstmLanguageModel({ ...tiny, tieWeights, dropout: 0.1, seed: 3 });
      const tokens = randomTokens(4, 9, 20, 7);
      const result = trainWithAdam(
        trainableVariables(lm.model),
        lmLoss(lm, tokens, true),
        80,
        0.03,
      );
      expectTrainingWorks(result, 0.7);
      tokens.dispose();
      lm.model.dispose();
    },
  );

  it('draws its dropout masks from the seeded stream, resumable', () => {
    const lm = buildLstmLanguageModel({ ...tiny, dropout: 0.5, seed: 3 });
    const tokens = randomTokens(4, 9, 20, 8);
    const loss = lmLoss(lm, tokens, true);
    const losses = (n: number) =>
      Array.from({ length: n }, () => {
        const l = loss();
        const v = l.dataSync()[0] as number;
        l.dispose();
        return v;
      });
    setDropoutSeed(11);
    const reference = losses(4);
    expect(new Set(reference).size).toBe(4); // a fresh mask on every pass
    setDropoutSeed(11);
    expect(losses(4)).toEqual(reference);
    setDropoutSeed(11);
    losses(2);
    const saved = getDropoutState();
    expect(saved.counter).toBe(2 * 3); // three dropout layers per pass
    setDropoutSeed(12);
    losses(1);
    setDropoutState(saved);
    expect(losses(2)).toEqual(reference.slice(2));
    // Inference draws nothing and is deterministic.
    const counter = getDropoutState().counter;
    const evalLoss = lmLoss(lm, tokens, false);
    const [e1, e2] = [evalLoss(), evalLoss()];
    expect(e1.dataSync()[0]).toBe(e2.dataSync()[0]);
    expect(getDropoutState().counter).toBe(counter);
    tf.dispose([e1, e2, tokens]);
    lm.model.dispose();
  });
});
