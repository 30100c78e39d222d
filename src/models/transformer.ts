import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { SeededDropout } from './dropout.js';
import { TiedOutputProjection } from './layers.js';
import { deriveSeed } from './seeds.js';
import { LayerNorm, PositionEmbedding, TransformerBlock } from './transformer-layers.js';
import type { SequenceLanguageModel } from './types.js';
import { checkPositiveInt, checkRate, checkSeed } from './validate.js';

export interface TransformerLanguageModelOptions {
  vocabSize: number;
  /** Model width d (embedding and residual stream). */
  width: number;
  /** Attention heads per block; must divide `width`. */
  heads: number;
  /** Transformer blocks. */
  layers: number;
  /** Learned positions: the longest token window the model reads. */
  contextLength: number;
  /** SeededDropout rate after the embeddings and on each block's two residual branches. */
  dropout: number;
  seed: number;
}

/** A GPT-style language model: stateless, every window read from scratch. */
export interface TransformerLanguageModel extends SequenceLanguageModel {
  contextLength: number;
  width: number;
  heads: number;
  layers: number;
}

/** GPT-2's initial standard deviation for embeddings and kernels. */
const INIT_STDDEV = 0.02;

/**
 * A small GPT-style Transformer language model (Radford et al. 2019; Karpathy's nanoGPT):
 * tokens → token embedding + learned positions → dropout → `layers` pre-LayerNorm blocks (causal
 * multi-head self-attention, 4·width GELU MLP; see `TransformerBlock`) → final LayerNorm →
 * logits through the token embedding's own matrix (tied, no bias).
 *
 * Input `tokens [b, t]` (int32, t ≤ contextLength), output logits `[b, t, vocabSize]`; position
 * i's logits depend on tokens 0 … i only. Layer names: `tokens`, `embedding`, `positions`,
 * `dropout0` (absent when `dropout` is 0), `block1` … `blockL`, `ln_f`, `logits`.
 *
 * Initialization (seeded per layer from `seed`), as GPT-2: embeddings, positions and kernels
 * normal(0, 0.02), the two kernels per block that write into the residual stream normal(0,
 * 0.02/√(2·layers)), biases 0, LayerNorm gains 1.
 *
 * Size: V·d + T·d + L·(12d² + 13d) + 2d. With V = 10,000, d = 128, T = 128, L = 4: 2,089,728.
 */
export function buildTransformerLanguageModel(
  options: TransformerLanguageModelOptions,
): TransformerLanguageModel {
  const { vocabSize, width, heads, layers, contextLength, dropout, seed } = options;
  checkPositiveInt(vocabSize, 'vocabSize');
  checkPositiveInt(width, 'width');
  checkPositiveInt(heads, 'heads');
  checkPositiveInt(layers, 'layers');
  checkPositiveInt(contextLength, 'contextLength');
  checkRate(dropout, 'dropout');
  checkSeed(seed);
  if (width % heads !== 0) {
    throw new UserInputError(
      `heads (${heads}) must divide width (${width}): pick e.g. heads ${largestDivisorUpTo(width, heads)}`,
    );
  }

  let stream = 0;
  const tokens = tf.input({ shape: [null], dtype: 'int32', name: 'tokens' });
  const embedding = tf.layers.embedding({
    inputDim: vocabSize,
    outputDim: width,
    name: 'embedding',
    embeddingsInitializer: tf.initializers.randomNormal({
      mean: 0,
      stddev: INIT_STDDEV,
      seed: deriveSeed(seed, stream++),
    }),
  });
  let x = new PositionEmbedding({
    contextLength,
    units: width,
    stddev: INIT_STDDEV,
    seed: deriveSeed(seed, stream++),
    name: 'positions',
  }).apply(embedding.apply(tokens)) as tf.SymbolicTensor;
  if (dropout > 0) {
    x = new SeededDropout({ rate: dropout, name: 'dropout0' }).apply(x) as tf.SymbolicTensor;
  }
  for (let l = 0; l < layers; l++) {
    x = new TransformerBlock({
      units: width,
      heads,
      dropout,
      stddev: INIT_STDDEV,
      residualStddev: INIT_STDDEV / Math.sqrt(2 * layers),
      seeds: [
        deriveSeed(seed, stream++),
        deriveSeed(seed, stream++),
        deriveSeed(seed, stream++),
        deriveSeed(seed, stream++),
      ],
      name: `block${l + 1}`,
    }).apply(x) as tf.SymbolicTensor;
  }
  x = new LayerNorm({ units: width, name: 'ln_f' }).apply(x) as tf.SymbolicTensor;
  const logits = new TiedOutputProjection({
    units: vocabSize,
    tiedTo: 'embedding',
    embedding,
    useBias: false,
    name: 'logits',
  }).apply(x) as tf.SymbolicTensor;

  const model = tf.model({ inputs: tokens, outputs: logits, name: `gpt${layers}x${width}` });
  return {
    model,
    vocabSize,
    contextLength,
    width,
    heads,
    layers,
    zeroState(batchSize: number): tf.Tensor[] {
      checkPositiveInt(batchSize, 'batchSize');
      return [];
    },
  };
}

function largestDivisorUpTo(n: number, limit: number): number {
  for (let k = Math.min(n, limit); k > 1; k--) if (n % k === 0) return k;
  return 1;
}
