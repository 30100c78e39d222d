import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/optimizers/index.js';
import { trainClassifier, trainLanguageModel } from '../../src/training/index.js';
import type { Augmentation } from '../../src/training/index.js';
import {
  readMetrics,
  syntheticCorpus,
  syntheticImages,
  tinyLstm,
  tinyMlp,
  withoutTimings,
} from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Random brightness from the loop's RNG: makes the data stream part of what must repeat.
const brightness: Augmentation = (images, _count, _shape, rng) => {
  for (let i = 0; i < images.length; i++) images[i] = images[i]! * (0.9 + 0.2 * rng.nextFloat());
};

async function classifierRun(seed: number, outDir?: string) {
  const model = tinyMlp(3, 0.2);
  const optimizer = new AdamW({ learningRate: 0.02, predictionSteps: 1 });
  const result = await trainClassifier({
    model,
    data: syntheticImages(),
    optimizer,
    epochs: 3,
    batchSize: 16,
    seed,
    logEvery: 2,
    outDir,
    augment: brightness,
    progress: 'none',
  });
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.dispose();
  optimizer.dispose();
  return { ...result, weights };
}

describe('determinism', () => {
  it('two classifier runs with the same seed write identical metrics and weights', async () => {
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'det-')));
    const a = await classifierRun(5, dirs[0]);
    const b = await classifierRun(5, dirs[1]);
    const fileA = readMetrics(fs.readFileSync(path.join(dirs[0]!, 'metrics.jsonl'), 'utf8'));
    const fileB = readMetrics(fs.readFileSync(path.join(dirs[1]!, 'metrics.jsonl'), 'utf8'));
    expect(fileA.map(withoutTimings)).toEqual(fileB.map(withoutTimings));
    expect(fileA).toEqual(a.records);
    // 3 epochs × 6 batches: a step record every 2 updates, plus one record per epoch.
    expect(fileA.filter((r) => r.type === 'step')).toHaveLength(9);
    expect(fileA.filter((r) => r.type === 'epoch')).toHaveLength(3);
    expect(a.weights).toEqual(b.weights);
    // The run learns the task (a loop that never updated the weights would stay near 1/3).
    expect(a.summary.final.testMetric).toBeGreaterThan(0.8);
    const summary = JSON.parse(fs.readFileSync(path.join(dirs[0]!, 'summary.json'), 'utf8'));
    expect(summary.final).toEqual(a.summary.final);
    expect(summary.steps).toBe(18);
    expect(summary.optimizerMemoryBytes).toBeGreaterThan(0);
    expect(summary.evaluatedOn).toBe('test');
  });

  it('a different seed gives a different data order and different numbers', async () => {
    const a = await classifierRun(5);
    const c = await classifierRun(6);
    expect(a.records.map(withoutTimings)).not.toEqual(c.records.map(withoutTimings));
  });

  it('two language-model runs with the same seed (with dropout) match exactly', async () => {
    const run = async () => {
      const lm = tinyLstm(2, 0.2);
      const optimizer = new AdamW({ learningRate: 0.01 });
      const result = await trainLanguageModel({
        model: lm,
        corpus: syntheticCorpus(),
        optimizer,
        epochs: 2,
        batchSize: 4,
        bptt: 10,
        evalBatchSize: 4,
        seed: 9,
        logEvery: 3,
        progress: 'none',
      });
      lm.model.dispose();
      optimizer.dispose();
      // Language models are scored on the validation split, and say so.
      expect(result.summary.evaluatedOn).toBe('validation');
      return result.records.map(withoutTimings);
    };
    const a = await run();
    expect(a).toEqual(await run());
    expect(a.filter((r) => r.type === 'epoch')).toHaveLength(2);
  });
});
