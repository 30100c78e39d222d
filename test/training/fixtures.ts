import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/data/rng.js';
import type { ImageClassificationDataset, LanguageModelCorpus } from '../../src/data/types.js';
import { buildLstmLanguageModel } from '../../src/models/lstm.js';
import { buildMlp } from '../../src/models/mlp.js';
import type { RecurrentLanguageModel } from '../../src/models/types.js';
import type { MetricsRecord } from '../../src/training/log-format.js';

/**
 * A small 3-class image task: each class is a fixed 4×4 pattern plus uniform noise, so a tiny MLP
 * learns it within a few epochs. Generated from a seeded Rng: the same on every run.
 */
export function syntheticImages(trainCount = 96, testCount = 48): ImageClassificationDataset {
  const rng = new Rng(7);
  const side = 4;
  const pixels = side * side;
  const prototypes = [0, 1, 2].map(() =>
    Float32Array.from({ length: pixels }, () => rng.nextFloat()),
  );
  const split = (count: number) => {
    const images = new Float32Array(count * pixels);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const label = rng.nextInt(3);
      labels[i] = label;
      for (let p = 0; p < pixels; p++) {
        images[i * pixels + p] = 0.6 * prototypes[label]![p]! + 0.4 * rng.nextFloat();
      }
    }
    return { images, labels, count };
  };
  return {
    name: 'synthetic-images',
    imageShape: [side, side, 1],
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    train: split(trainCount),
    test: split(testCount),
  };
}

export function tinyMlp(seed = 1, dropout = 0): tf.LayersModel {
  return buildMlp({ inputShape: [4, 4, 1], hiddenUnits: [12], numClasses: 3, dropout, seed });
}

/**
 * A token stream from a sparse Markov chain over 12 words (each word has 2 likely successors), so
 * a small LSTM can push its perplexity far below the vocabulary size.
 */
export function syntheticCorpus(trainTokens = 600, heldOutTokens = 200): LanguageModelCorpus {
  const rng = new Rng(11);
  const vocab = ['<unk>', '<eos>', ...Array.from({ length: 10 }, (_, i) => `w${i}`)];
  const V = vocab.length;
  const successors = Array.from({ length: V }, () => [rng.nextInt(V), rng.nextInt(V)]);
  let token = 2;
  const stream = (n: number) => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = token;
      const r = rng.nextFloat();
      token = r < 0.9 ? successors[token]![r < 0.6 ? 0 : 1]! : rng.nextInt(V);
    }
    return out;
  };
  return {
    name: 'synthetic-text',
    vocab,
    unkId: 0,
    eosId: 1,
    train: stream(trainTokens),
    valid: stream(heldOutTokens),
    test: stream(heldOutTokens),
  };
}

export function tinyLstm(seed = 1, dropout = 0): RecurrentLanguageModel {
  return buildLstmLanguageModel({
    vocabSize: 12,
    embeddingSize: 8,
    hiddenSize: 8,
    layers: 1,
    dropout,
    tieWeights: false,
    seed,
  });
}

/** A metrics record without its timing fields (which differ from run to run). */
export function withoutTimings(record: MetricsRecord): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...record };
  for (const key of ['elapsedSeconds', 'samplesPerSecond', 'epochSeconds']) delete rest[key];
  return rest;
}

export function readMetrics(text: string): MetricsRecord[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as MetricsRecord);
}
