import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { ImageClassificationDataset } from '../../src/data/types.js';
import { holdOutValidation } from '../../src/data/validation.js';
import { resolveRun } from '../../src/experiments/config.js';
import { loadImageData, runOne } from '../../src/experiments/run.js';

/** 50 one-pixel images whose value is their index, so each image can be traced. */
function indexed(count: number): ImageClassificationDataset {
  return {
    name: 'indexed',
    imageShape: [1, 1, 1],
    numClasses: 10,
    classNames: [...'0123456789'],
    train: {
      images: Float32Array.from({ length: count }, (_, i) => i),
      labels: Int32Array.from({ length: count }, (_, i) => i % 10),
      count,
    },
    test: { images: new Float32Array([0]), labels: new Int32Array([0]), count: 1 },
  };
}

describe('holdOutValidation', () => {
  it('splits the training images into disjoint train and validation parts, the same every time', () => {
    const data = indexed(50);
    const a = holdOutValidation(data, 0.1);
    const b = holdOutValidation(data, 0.1);
    expect(a.valid.count).toBe(5);
    expect(a.train.count).toBe(45);
    const valid = [...a.valid.images];
    const train = [...a.train.images];
    expect(new Set([...valid, ...train]).size).toBe(50);
    expect([...b.valid.images]).toEqual(valid);
    // Labels travel with their images; the training part keeps its original order.
    a.valid.images.forEach((v, i) => expect(a.valid.labels[i]).toBe(v % 10));
    expect(train).toEqual([...train].sort((x, y) => x - y));
    // Not simply the first or last images.
    expect(valid).not.toEqual([0, 1, 2, 3, 4]);
    expect(valid).not.toEqual([45, 46, 47, 48, 49]);
    expect(a.test).toBe(data.test);
  });

  it('rejects a fraction that leaves nothing to train on or is not in (0, 1)', () => {
    expect(() => holdOutValidation(indexed(50), 0)).toThrow(/validationFraction 0.*\(0, 1\)/);
    expect(() => holdOutValidation(indexed(50), 1.5)).toThrow(/validationFraction 1.5/);
    expect(() => holdOutValidation(indexed(1), 0.5)).toThrow(/leaves none to train on/);
  });
});

describe('image tasks hold out a validation split', () => {
  it('mnist-tiny: 10% of its 2,000 training images, logged per epoch apart from test', async () => {
    const config = resolveRun(
      { task: 'mnist-tiny', epochs: 1 },
      { optimizer: 'adamw', predictionSteps: 0 },
      1,
    );
    const { data } = loadImageData(config, config.data as never);
    expect(data.train.count).toBe(1800);
    expect(data.valid?.count).toBe(200);
    expect(data.test.count).toBe(500);
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const { records, summary } = await runOne(config, { progress: 'none' });
    expect(tf.memory().numTensors).toBe(before);
    const epoch = records.find((r) => r.type === 'epoch')!;
    expect(epoch.type === 'epoch' && epoch.validMetric).toBeGreaterThan(0.3);
    expect(summary.final.validMetric).toBe(epoch.type === 'epoch' && epoch.validMetric);
    expect(summary.final.validMetric).not.toBe(summary.final.testMetric);
    expect(summary.config.validCount).toBe(200);
    expect(summary.config.trainCount).toBe(1800);
  });
});
