import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { AdamW } from '../../src/optimizers/index.js';
import { trainClassifier, trainLanguageModel } from '../../src/training/index.js';
import { syntheticCorpus, syntheticImages, tinyLstm, tinyMlp } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('bad input is refused before training starts', () => {
  const data = syntheticImages();
  const base = () => ({
    model: tinyMlp(1),
    data,
    optimizer: new AdamW(),
    epochs: 1,
    batchSize: 16,
    seed: 1,
    progress: 'none' as const,
  });
  it.each([
    [
      'batch larger than the data',
      { batchSize: 97 },
      /batchSize 97: larger than the 96 training samples; use at most 96/,
    ],
    ['epochs < 1', { epochs: 0 }, /Invalid epochs 0: expected an integer >= 1/],
    ['fractional epochs', { epochs: 1.5 }, /Invalid epochs 1.5/],
    ['negative seed', { seed: -1 }, /Invalid seed -1/],
    ['logEvery 0', { logEvery: 0 }, /Invalid logEvery 0/],
    ['checkpoints without outDir', { checkpointEvery: 5 }, /need outDir/],
    ['unknown progress mode', { progress: 'fancy' }, /Invalid progress "fancy"/],
    ['not an optimizer', { optimizer: {} }, /Invalid optimizer/],
    ['outDir is a file', { outDir: __filename }, /is a file, not a folder/],
    ['outDir under a file', { outDir: path.join(__filename, 'run') }, /is not writable/],
  ])('%s', async (_what, override, message) => {
    const before = tf.memory().numTensors;
    const options = { ...base(), ...override } as Parameters<typeof trainClassifier>[0];
    await expect(trainClassifier(options)).rejects.toThrow(message);
    await expect(trainClassifier(options)).rejects.toBeInstanceOf(UserInputError);
    options.model.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  });

  it('an existing run folder needs resume or overwrite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'err-'));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"type":"step"}\n');
    await expect(trainClassifier({ ...base(), outDir: dir })).rejects.toThrow(
      /already holds a run \(metrics.jsonl\): pass resume to continue it, overwrite to replace it/,
    );
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')).toBe('{"type":"step"}\n');
    await trainClassifier({ ...base(), outDir: dir, overwrite: true });
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')).toMatch(/"type":"epoch"/);
  });

  it('language models: too many streams, bad bptt, vocabulary mismatch', async () => {
    const corpus = syntheticCorpus();
    const lm = tinyLstm(1);
    const opts = {
      model: lm,
      corpus,
      optimizer: new AdamW(),
      epochs: 1,
      batchSize: 4,
      seed: 1,
      progress: 'none' as const,
    };
    await expect(trainLanguageModel({ ...opts, batchSize: 301 })).rejects.toThrow(
      /batchSize 301: each of the batchSize streams needs at least 2 of the 600 training tokens; use at most 300/,
    );
    await expect(trainLanguageModel({ ...opts, bptt: 0 })).rejects.toThrow(/Invalid bptt 0/);
    await expect(
      trainLanguageModel({ ...opts, corpus: { ...corpus, vocab: [...corpus.vocab, 'extra'] } }),
    ).rejects.toThrow(/vocabulary \(12\) differs from the corpus's \(13\)/);
    lm.model.dispose();
  });
});

describe('no tensor leaks across epochs', () => {
  it('classification', async () => {
    const model = tinyMlp(2, 0.2);
    const optimizer = new AdamW({ learningRate: 0.01, predictionSteps: 1 });
    const counts: number[] = [];
    await trainClassifier({
      model,
      data: syntheticImages(),
      optimizer,
      epochs: 4,
      batchSize: 16,
      seed: 1,
      progress: 'none',
      onEpochEnd: () => void counts.push(tf.memory().numTensors),
    });
    // Epoch 1 creates the optimizer's state; from then on the count must not move.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[0]).toBe(counts[1]);
    model.dispose();
    optimizer.dispose();
  });

  it('language model (carried state, evaluation), with checkpoints', async () => {
    const lm = tinyLstm(2, 0.2);
    const optimizer = new AdamW({ learningRate: 0.01, predictionSteps: 1 });
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    await trainLanguageModel({
      model: lm,
      corpus: syntheticCorpus(),
      optimizer,
      epochs: 4,
      batchSize: 4,
      bptt: 10,
      evalBatchSize: 4,
      seed: 1,
      outDir: fs.mkdtempSync(path.join(os.tmpdir(), 'leak-')),
      checkpointEvery: 5,
      progress: 'none',
      onEpochEnd: () => void counts.push(tf.memory().numTensors),
    });
    expect(new Set(counts).size).toBe(1);
    // After the run only the optimizer's state is left beyond the model: the carried state is freed.
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });
});
