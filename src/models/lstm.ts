import * as tf from '@tensorflow/tfjs';
import { dense } from './dense.js';
import { UserInputError } from '../errors.js';
import { SeededDropout } from './dropout.js';
import { TiedOutputProjection } from './layers.js';
import { ExplicitStateLstm, LstmOutput } from './lstm-layer.js';
import { deriveSeed } from './seeds.js';
import type { RecurrentLanguageModel } from './types.js';
import { checkPositiveInt, checkRate, checkSeed } from './validate.js';

export interface LstmLanguageModelOptions {
  vocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  /** Stacked LSTM layers: 1, 2 or 3. */
  layers: number;
  /** SeededDropout rate on the embeddings, between LSTM layers and before the output layer. */
  dropout: number;
  /** Share the embedding matrix with the output projection (needs embeddingSize == hiddenSize). */
  tieWeights: boolean;
  seed: number;
}

/**
 * A word-level LSTM language model with explicit state (see `RecurrentLanguageModel`), as in
 * Zaremba et al. (2014) and PyTorch's word_language_model example:
 * tokens → embedding → dropout → (LSTM → dropout) × layers → projection to vocabulary logits.
 *
 * Inputs `[tokens, h0, c0, h1, c1, …]`, outputs `[logits, h0', c0', …]`. Layer names: `tokens`,
 * `h0`, `c0`, …, `embedding`, `dropout0`, `lstm1` … `lstmL` (each an `ExplicitStateLstm`, sigmoid
 * gates as in PyTorch, read out by `lstmK.sequence`, `lstmK.h`, `lstmK.c`), `dropout1` …
 * `dropoutL`, `logits` (a `TiedOutputProjection` reading `embedding`'s matrix when `tieWeights`,
 * else a dense layer). With `dropout` 0 the dropout layers are left out. Every layer has one
 * output, so tfjs-layers' executor runs each once per forward pass, and `model.apply(inputs,
 * {training: true})` works without patches.
 *
 * Initialization (seeded per layer from `seed`): embedding and untied output kernel
 * uniform(−0.1, 0.1), output bias 0 (as the PyTorch example); LSTM kernels, recurrent kernels and
 * biases uniform(−1/√H, 1/√H) (PyTorch's LSTM default), with no extra forget-gate bias.
 *
 * Size: V·E (embedding) + Σ_l [4H·(in_l + H) + 4H] (in_1 = E, else H; one bias vector per layer,
 * where PyTorch has two) + H·V + V (output; only V when tied). Zaremba's small model (V = 10,000,
 * E = H = 200, 2 layers) has 4,651,600 parameters untied and 2,651,600 tied.
 */
export function buildLstmLanguageModel(options: LstmLanguageModelOptions): RecurrentLanguageModel {
  const { vocabSize, embeddingSize, hiddenSize, layers, dropout, tieWeights, seed } = options;
  checkPositiveInt(vocabSize, 'vocabSize');
  checkPositiveInt(embeddingSize, 'embeddingSize');
  checkPositiveInt(hiddenSize, 'hiddenSize');
  checkSeed(seed);
  checkRate(dropout, 'dropout');
  if (layers !== 1 && layers !== 2 && layers !== 3) {
    throw new UserInputError(`layers must be 1, 2 or 3, got ${layers}`);
  }
  if (typeof tieWeights !== 'boolean') {
    throw new UserInputError(`tieWeights must be true or false, got ${String(tieWeights)}`);
  }
  if (tieWeights && embeddingSize !== hiddenSize) {
    throw new UserInputError(
      `tieWeights needs embeddingSize == hiddenSize, got embeddingSize ${embeddingSize} and ` +
        `hiddenSize ${hiddenSize}; make them equal or set tieWeights to false`,
    );
  }

  let stream = 0;
  const uniform = (limit: number) =>
    tf.initializers.randomUniform({
      minval: -limit,
      maxval: limit,
      seed: deriveSeed(seed, stream++),
    });
  const maybeDropout = (x: tf.SymbolicTensor, name: string) =>
    dropout > 0 ? (new SeededDropout({ rate: dropout, name }).apply(x) as tf.SymbolicTensor) : x;

  const tokens = tf.input({ shape: [null], dtype: 'int32', name: 'tokens' });
  const stateInputs: tf.SymbolicTensor[] = [];
  for (let l = 0; l < layers; l++) {
    stateInputs.push(tf.input({ shape: [hiddenSize], name: `h${l}` }));
    stateInputs.push(tf.input({ shape: [hiddenSize], name: `c${l}` }));
  }

  const embedding = tf.layers.embedding({
    inputDim: vocabSize,
    outputDim: embeddingSize,
    name: 'embedding',
    embeddingsInitializer: uniform(0.1),
  });
  let x = maybeDropout(embedding.apply(tokens) as tf.SymbolicTensor, 'dropout0');
  const stateOutputs: tf.SymbolicTensor[] = [];
  const lstmLimit = 1 / Math.sqrt(hiddenSize);
  for (let l = 0; l < layers; l++) {
    const packed = new ExplicitStateLstm({
      units: hiddenSize,
      initLimit: lstmLimit,
      seeds: [deriveSeed(seed, stream++), deriveSeed(seed, stream++), deriveSeed(seed, stream++)],
      name: `lstm${l + 1}`,
    }).apply([x, stateInputs[2 * l], stateInputs[2 * l + 1]] as tf.SymbolicTensor[]);
    const part = (p: 'sequence' | 'h' | 'c') =>
      new LstmOutput({ part: p, name: `lstm${l + 1}.${p}` }).apply(packed) as tf.SymbolicTensor;
    const [seq, h, c] = [part('sequence'), part('h'), part('c')];
    stateOutputs.push(h, c);
    x = maybeDropout(seq, `dropout${l + 1}`);
  }
  const projection = tieWeights
    ? new TiedOutputProjection({ units: vocabSize, tiedTo: 'embedding', embedding, name: 'logits' })
    : dense({ units: vocabSize, name: 'logits', kernelInitializer: uniform(0.1) });
  const logits = projection.apply(x) as tf.SymbolicTensor;

  const model = tf.model({
    inputs: [tokens, ...stateInputs],
    outputs: [logits, ...stateOutputs],
    name: `lstm${layers}lm`,
  });
  return {
    model,
    vocabSize,
    hiddenSize,
    layers,
    zeroState(batchSize: number): tf.Tensor[] {
      checkPositiveInt(batchSize, 'batchSize');
      return Array.from({ length: 2 * layers }, () => tf.zeros([batchSize, hiddenSize]));
    },
  };
}
