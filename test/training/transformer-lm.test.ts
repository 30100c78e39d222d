import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { resolveRun } from '../../src/experiments/config.js';
import { PRESETS } from '../../src/experiments/presets.js';
import type { TextDataConfig } from '../../src/experiments/presets.js';
import { loadCorpus, runOne } from '../../src/experiments/run.js';
import { kneserNeyBaseline } from '../../src/data/kneser-ney.js';
import { corpusStats } from '../../src/data/text.js';
import { selectBackend } from '../../src/kernels/index.js';
import { buildTransformerLanguageModel } from '../../src/models/index.js';
import { AdamW } from '../../src/optimizers/index.js';
import { trainLanguageModel } from '../../src/training/index.js';
import { syntheticCorpus } from './fixtures.js';

beforeAll(async () => {
  // With the project's cpu training kernels: the stock embedding gradient takes ~17 s a step at
  // a 2k vocabulary.
  expect(await selectBackend('cpu')).toBe('cpu');
});

const tinyTransformer = (seed = 1, dropout = 0) =>
  buildTransformerLanguageModel({
    vocabSize: 12,
    width: 16,
    heads: 2,
    layers: 1,
    contextLength: 10,
    dropout,
    seed,
  });

describe('the language-model training path with a Transformer', () => {
  it('trains window by window (s = 1), perplexity falls, tensors flat, checkpoints written', async () => {
    const lm = tinyTransformer(2, 0.1);
    const optimizer = new AdamW({ learningRate: 0.01, predictionSteps: 1 });
    const counts: number[] = [];
    const perplexities: number[] = [];
    const before = tf.memory().numTensors;
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-'));
    await trainLanguageModel({
      model: lm,
      corpus: syntheticCorpus(),
      optimizer,
      epochs: 4,
      batchSize: 4,
      bptt: 10,
      evalBatchSize: 4,
      seed: 1,
      outDir,
      checkpointEvery: 5,
      progress: 'none',
      onEpochEnd: (epoch) => {
        counts.push(tf.memory().numTensors);
        perplexities.push(epoch.testMetric);
      },
    });
    expect(new Set(counts).size, `tensor counts ${counts}`).toBe(1);
    // 12 words; the Markov chain's successors make ~3 reachable: the model must learn them.
    expect(perplexities[0]).toBeLessThan(12);
    expect(perplexities.at(-1)!).toBeLessThan(perplexities[0]!);
    expect(fs.readdirSync(outDir).length).toBeGreaterThan(1);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });

  it('refuses a window longer than the context before training starts', async () => {
    const lm = tinyTransformer();
    const run = trainLanguageModel({
      model: lm,
      corpus: syntheticCorpus(),
      optimizer: new AdamW(),
      epochs: 1,
      batchSize: 4,
      bptt: 11,
      seed: 1,
      progress: 'none',
    });
    await expect(run).rejects.toThrow(
      /Invalid bptt 11: longer than the model's context of 10 tokens; use bptt <= 10/,
    );
    await expect(run).rejects.toBeInstanceOf(UserInputError);
    lm.model.dispose();
  });

  it('has presets on the Gutenberg corpus, whose windows fit the context', () => {
    for (const name of ['gutenberg-transformer', 'gutenberg-transformer-tiny']) {
      const preset = PRESETS.find((p) => p.name === name)!;
      expect(preset.data.kind).toBe('text');
      expect(preset.model.kind).toBe('transformer');
      if (preset.model.kind !== 'transformer') continue;
      expect(preset.recipe.bptt).toBeLessThanOrEqual(preset.model.contextLength);
      expect(preset.model.width % preset.model.heads).toBe(0);
    }
  });

  it('runs the smoke preset end to end on the Gutenberg corpus (cut short)', async () => {
    const config = resolveRun(
      {
        task: 'gutenberg-transformer-tiny',
        epochs: 1,
        data: { trainTokens: 2_000, validTokens: 400 },
      },
      { optimizer: 'adamw', predictionSteps: 1 },
      1,
    );
    const before = tf.memory().numTensors;
    const { summary } = await runOne(config, { progress: 'none' });
    expect(summary.final.testMetric).toBeGreaterThan(1);
    expect(Number.isFinite(summary.final.testMetric)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    // The summary logs the data as trained and the Kneser-Ney bigram on the same pairs.
    const corpus = loadCorpus(config, config.data as TextDataConfig);
    const stats = corpusStats(corpus);
    expect(summary.corpus).toEqual({
      vocabSize: 2002,
      tokens: { train: 2_000, validation: 400, test: stats.tokens.test },
      unkRate: {
        train: stats.unkRate.train,
        validation: stats.unkRate.valid,
        test: stats.unkRate.test,
      },
      kneserNeyBigram: kneserNeyBaseline(corpus, config.recipe.batchSize, 10),
    });
    expect(summary.corpus!.kneserNeyBigram.trainPairs).toBe(2_000 - config.recipe.batchSize);
  }, 180_000); // loading and tokenizing the corpus alone takes ~8 s here
});
