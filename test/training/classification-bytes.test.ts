import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentBatch, channelStats, imagesToFloat } from '../../src/data/batching.js';
import type { ImageClassificationDataset, ImageSplit } from '../../src/data/types.js';
import { AdamW } from '../../src/optimizers/index.js';
import { trainClassifier, type Augmentation } from '../../src/training/index.js';
import { syntheticImages, tinyMlp, withoutTimings } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The synthetic task with its pixels stored as bytes (byte v = v / 255), as the CIFAR loaders do. */
function byteImages(): ImageClassificationDataset {
  const data = syntheticImages();
  const toBytes = (s: ImageSplit): ImageSplit => ({
    ...s,
    images: Uint8Array.from(s.images, (v) => Math.round(v * 255)),
  });
  return { ...data, train: toBytes(data.train), test: toBytes(data.test) };
}

/** Crop (padding 1) and flip, as the CIFAR presets' augmentation. */
const cropFlip: Augmentation = (images, count, shape, rng) => {
  images.set(augmentBatch(images, count, shape, rng, { padding: 1 }));
};

async function run(data: ImageClassificationDataset, normalize?: ReturnType<typeof channelStats>) {
  const model = tinyMlp(4, 0.1);
  const optimizer = new AdamW({ learningRate: 0.02, predictionSteps: 1 });
  const counts: number[] = [];
  const result = await trainClassifier({
    model,
    data,
    ...(normalize && { normalize }),
    optimizer,
    epochs: 3,
    batchSize: 16,
    evalBatchSize: 20,
    seed: 3,
    logEvery: 1,
    augment: cropFlip,
    augmentName: 'crop1-flip',
    progress: 'none',
    onEpochEnd: () => void counts.push(tf.memory().numTensors),
  });
  model.dispose();
  optimizer.dispose();
  return { ...result, counts };
}

describe('trainClassifier on byte images, normalised per batch', () => {
  it('trains as the same images stored as floats and normalised up front', async () => {
    const bytes = byteImages();
    // The former pipeline: floats v / 255, stats of them, the whole split standardised first.
    const floats: ImageClassificationDataset = {
      ...bytes,
      train: { ...bytes.train, images: imagesToFloat(bytes.train.images) },
      test: { ...bytes.test, images: imagesToFloat(bytes.test.images) },
    };
    const floatStats = channelStats(floats.train, 1);
    const standardise = (s: ImageSplit): ImageSplit => ({
      ...s,
      images: Float32Array.from(
        s.images,
        (v) => (v - floatStats.mean[0]!) * (1 / floatStats.std[0]!),
      ),
    });
    const before = await run({
      ...floats,
      train: standardise(floats.train),
      test: standardise(floats.test),
    });
    const byteStats = channelStats(bytes.train, 1);
    const after = await run(bytes, byteStats);

    const a = before.records.map(withoutTimings);
    const b = after.records.map(withoutTimings);
    expect(b).toHaveLength(a.length);
    // The stats agree to float64 rounding (1e-16 here), so each standardised pixel agrees to
    // float32 rounding of (v/255 − mean)/std; the losses then agree far within 1e-6.
    let largest = 0;
    b.forEach((record, i) => {
      expect(Object.keys(record).sort()).toEqual(Object.keys(a[i]!).sort());
      for (const [key, value] of Object.entries(record)) {
        const other = a[i]![key];
        if (typeof value === 'number' && typeof other === 'number') {
          largest = Math.max(largest, Math.abs(value - other) / Math.max(1, Math.abs(other)));
        } else {
          expect(value).toEqual(other);
        }
      }
    });
    console.log(`byte vs float pipeline: largest relative difference in the metrics ${largest}`);
    expect(largest).toBeLessThan(1e-6);
    // No tensor leaks: from epoch 1 on the count stays put.
    expect(new Set(after.counts).size).toBe(1);
  });

  it('refuses bad stats before training', async () => {
    const model = tinyMlp(1);
    const before = tf.memory().numTensors;
    const options = {
      model,
      data: byteImages(),
      optimizer: new AdamW(),
      epochs: 1,
      batchSize: 16,
      seed: 1,
      progress: 'none' as const,
    };
    await expect(
      trainClassifier({ ...options, normalize: { mean: [0.5], std: [0] } }),
    ).rejects.toThrow(/normalize: std of channel 0 is 0; it must be positive/);
    await expect(
      trainClassifier({ ...options, normalize: { mean: [0.5, 0.5], std: [1, 1] } }),
    ).rejects.toThrow(/normalize has 2 channel means; the images have 1 channels/);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    model.dispose();
  });
});
