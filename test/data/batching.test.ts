import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  augmentBatch,
  batchify,
  bpttWindowCount,
  bpttWindows,
  channelStats,
  classificationBatches,
  imagesToFloat,
} from '../../src/data/batching.js';
import { Rng } from '../../src/data/rng.js';
import type { ImageSplit } from '../../src/data/types.js';

const SHAPE = [4, 5, 3] as const;
const IMAGE = 4 * 5 * 3;

/** A split whose pixel values encode (example, pixel): easy to trace through batching. */
function makeSplit(count: number): ImageSplit & { images: Float32Array } {
  const images = new Float32Array(count * IMAGE);
  for (let n = 0; n < count; n++) {
    for (let k = 0; k < IMAGE; k++) images[n * IMAGE + k] = n + k / 1000;
  }
  const labels = Int32Array.from({ length: count }, (_, n) => n % 7);
  return { images, labels, count };
}

describe('classificationBatches', () => {
  const split = makeSplit(103);

  it('covers every example exactly once per epoch, with matching x and y', () => {
    const epoch = classificationBatches(split, 10, { rng: new Rng(1) });
    expect(epoch.numBatches).toBe(11);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const batch of epoch) {
      sizes.push(batch.size);
      expect(batch.x.length).toBe(batch.size * IMAGE);
      batch.indices.forEach((idx, k) => {
        seen.push(idx);
        expect(batch.y[k]).toBe(idx % 7);
        expect(batch.x[k * IMAGE + 7]).toBeCloseTo(idx + 0.007, 4);
      });
    }
    expect(sizes).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(seen.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(seen).not.toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  it('drops the short last batch with dropLast, keeps the order without shuffle', () => {
    const epoch = classificationBatches(split, 10, { shuffle: false, dropLast: true });
    expect(epoch.numBatches).toBe(10);
    expect([...epoch.order.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect([...epoch].reduce((n, b) => n + b.size, 0)).toBe(100);
  });

  it('is deterministic from the rng, and successive epochs differ', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const first = classificationBatches(split, 16, { rng: a }).order;
    expect(classificationBatches(split, 16, { rng: b }).order).toEqual(first);
    expect(classificationBatches(split, 16, { rng: a }).order).not.toEqual(first);
  });

  it('resumes mid-epoch from the epoch-start rng state: same batches, same final state', () => {
    const augment = { imageShape: SHAPE, padding: 1 };
    const rng = new Rng(11);
    classificationBatches(split, 8, { rng }); // an earlier epoch
    const atEpochStart = rng.getState();
    const full = [...classificationBatches(split, 8, { rng, augment })];
    const afterEpoch = rng.getState();

    const resumedRng = Rng.fromState(atEpochStart);
    const resumed = [
      ...classificationBatches(split, 8, { rng: resumedRng, augment, startBatch: 6 }),
    ];
    expect(resumed.map((b) => b.batchIndex)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    resumed.forEach((batch, k) => {
      const original = full[6 + k];
      expect(batch.indices).toEqual(original?.indices);
      expect(batch.x).toEqual(original?.x);
      expect(batch.y).toEqual(original?.y);
    });
    expect(resumedRng.getState()).toEqual(afterEpoch);
  });

  it('augments each batch with its own random stream', () => {
    // Identical images and no shuffle: any difference between batches comes from augmentation.
    const same = {
      images: new Float32Array(8 * IMAGE).fill(1),
      labels: new Int32Array(8),
      count: 8,
    };
    const epoch = classificationBatches(same, 4, {
      shuffle: false,
      rng: new Rng(2),
      augment: { imageShape: SHAPE, padding: 2 },
    });
    expect(epoch.batch(0).x).not.toEqual(epoch.batch(1).x);
    expect(epoch.batch(1).x).toEqual(epoch.batch(1).x);
    expect(epoch.batch(0).x.some((v) => v === 0)).toBe(true);
  });

  it('rejects bad arguments with UserInputError', () => {
    expect(() => classificationBatches(split, 200, { shuffle: false, dropLast: true })).toThrow(
      /batch size 200 is larger than the 103 examples.*<= 103/,
    );
    expect(() => classificationBatches(split, 0, { rng: new Rng(1) })).toThrow(UserInputError);
    expect(() => classificationBatches(split, 10)).toThrow(/needs an rng/);
    expect(() => classificationBatches(split, 10, { shuffle: false, startBatch: 12 })).toThrow(
      /startBatch must be an integer in \[0, 11\]/,
    );
    expect(() =>
      classificationBatches(split, 10, { rng: new Rng(1), augment: { imageShape: [5, 5, 3] } }),
    ).toThrow(/does not match the split's 60 pixel values per image/);
  });
});

describe('augmentBatch', () => {
  const split = makeSplit(6);

  it('keeps the shape, is deterministic and leaves the input alone', () => {
    const copy = split.images.slice();
    const a = augmentBatch(split.images, 6, SHAPE, new Rng(3));
    const b = augmentBatch(split.images, 6, SHAPE, new Rng(3));
    expect(a.length).toBe(split.images.length);
    expect(a).toEqual(b);
    expect(split.images).toEqual(copy);
    expect(augmentBatch(split.images, 6, SHAPE, new Rng(4))).not.toEqual(a);
  });

  it('crops from the zero-padded image at the drawn offsets, then flips as drawn', () => {
    const rng = new Rng(8);
    const draws = rng.clone();
    const padding = 2;
    const out = augmentBatch(split.images, 6, SHAPE, rng, { padding });
    const [h, w, c] = SHAPE;
    let flips = 0;
    for (let n = 0; n < 6; n++) {
      // The documented draw order: dy, dx, then the flip float.
      const dy = draws.nextInt(2 * padding + 1) - padding;
      const dx = draws.nextInt(2 * padding + 1) - padding;
      const flip = draws.nextFloat() < 0.5;
      if (flip) flips++;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const si = i + dy;
          const sj = (flip ? w - 1 - j : j) + dx;
          for (let k = 0; k < c; k++) {
            const inside = si >= 0 && si < h && sj >= 0 && sj < w;
            const expected = inside ? split.images[n * IMAGE + (si * w + sj) * c + k] : 0;
            expect(out[n * IMAGE + (i * w + j) * c + k]).toBe(expected);
          }
        }
      }
    }
    expect(rng.getState()).toEqual(draws.getState());
    expect(flips).toBeGreaterThan(0);
  });

  it('with padding 0 and flipProbability 1 mirrors every image exactly', () => {
    const out = augmentBatch(split.images, 6, SHAPE, new Rng(1), {
      padding: 0,
      flipProbability: 1,
    });
    const [, w, c] = SHAPE;
    expect(out[(0 * w + 0) * c + 1]).toBe(split.images[(0 * w + (w - 1)) * c + 1]);
    expect(out[IMAGE + (3 * w + 1) * c + 2]).toBe(split.images[IMAGE + (3 * w + 3) * c + 2]);
  });

  it('rejects a size that does not match the shape', () => {
    expect(() => augmentBatch(split.images, 5, SHAPE, new Rng(1))).toThrow(
      /is not 5 images of \[4, 5, 3\]/,
    );
  });
});

describe('per-channel normalisation', () => {
  it('computes mean/std per channel and standardises each batch', () => {
    const images = Float32Array.from([0, 10, 1, 2, 20, 1, 4, 30, 1, 6, 40, 1]); // 4 pixels, 3 channels
    const split = { images, labels: new Int32Array(1), count: 1 };
    const stats = channelStats(split, 3);
    expect(stats.mean).toEqual([3, 25, 1]);
    expect(stats.std[0]).toBeCloseTo(Math.sqrt(5), 12);
    expect(stats.std[2]).toBe(0);
    expect(() => classificationBatches(split, 1, { shuffle: false, normalize: stats })).toThrow(
      /std of channel 2 is 0/,
    );
    expect(() =>
      classificationBatches(split, 1, { shuffle: false, normalize: { mean: [0, 0], std: [1] } }),
    ).toThrow(/one value per channel/);
    const ok = { mean: stats.mean, std: [stats.std[0] as number, stats.std[1] as number, 1] };
    const { x } = classificationBatches(split, 1, { shuffle: false, normalize: ok }).batch(0);
    expect(images[0]).toBe(0); // the split is left alone
    const after = channelStats({ images: x, labels: split.labels, count: 1 }, 3);
    expect(after.mean[0]).toBeCloseTo(0, 6);
    expect(after.std[1]).toBeCloseTo(1, 6);
    expect(x[0]).toBeCloseTo(-3 / Math.sqrt(5), 6);
  });
});

describe('byte images (Uint8Array, byte v = v / 255)', () => {
  const c = SHAPE[2];
  const count = 37;
  const rng = new Rng(21);
  // Each channel has its own range, so the per-channel stats differ.
  const bytes = Uint8Array.from({ length: count * IMAGE }, (_, i) =>
    i % c === 0 ? rng.nextInt(256) : i % c === 1 ? 40 + rng.nextInt(100) : 200 + rng.nextInt(56),
  );
  const labels = Int32Array.from({ length: count }, (_, n) => n % 5);
  const byteSplit: ImageSplit = { images: bytes, labels, count };
  const floatSplit: ImageSplit = { images: imagesToFloat(bytes), labels, count };

  it('imagesToFloat gives v / 255 as float32, and floats back unchanged', () => {
    expect(floatSplit.images[5]).toBe(Math.fround((bytes[5] as number) / 255));
    expect(imagesToFloat(floatSplit.images)).toBe(floatSplit.images);
  });

  it('channelStats of the bytes agrees with that of the same images as floats', () => {
    const fromBytes = channelStats(byteSplit, c);
    const fromFloats = channelStats(floatSplit, c);
    for (let k = 0; k < c; k++) {
      // Only the float64 summation order differs (a histogram against a running sum).
      expect(Math.abs((fromBytes.mean[k] as number) - (fromFloats.mean[k] as number))).toBeLessThan(
        1e-13,
      );
      expect(Math.abs((fromBytes.std[k] as number) - (fromFloats.std[k] as number))).toBeLessThan(
        1e-13,
      );
    }
  });

  it('builds the same batches as the float split, equal to (v/255 − mean)/std to 1e-6', () => {
    const stats = channelStats(byteSplit, c);
    const options = (seed: number) => ({
      rng: new Rng(seed),
      normalize: stats,
      augment: { imageShape: SHAPE, padding: 1 },
    });
    const fromBytes = [...classificationBatches(byteSplit, 8, options(4))];
    const fromFloats = [...classificationBatches(floatSplit, 8, options(4))];
    // Without augmentation, to compare each value with its pixel's exact standardised value.
    const plain = classificationBatches(byteSplit, 8, { rng: new Rng(4), normalize: stats });
    let largest = 0;
    fromBytes.forEach((batch, i) => {
      // A byte goes through a table built with the float path's arithmetic: bit-identical.
      expect(batch.x).toEqual(fromFloats[i]?.x);
      expect(batch.y).toEqual(fromFloats[i]?.y);
      const { x, indices } = plain.batch(i);
      indices.forEach((n, k) => {
        for (let p = 0; p < IMAGE; p++) {
          const ch = p % c;
          const exact =
            ((bytes[n * IMAGE + p] as number) / 255 - (stats.mean[ch] as number)) /
            (stats.std[ch] as number);
          largest = Math.max(largest, Math.abs((x[k * IMAGE + p] as number) - exact));
        }
      });
    });
    // Tolerance: float32 rounding of v / 255 and of the result; the values here lie within ±4,
    // where float32 values are at most 4.8e-7 apart, so 1e-6 allows both roundings.
    expect(largest).toBeLessThan(1e-6);
    expect(largest).toBeGreaterThan(0); // the float32 rounding is really there
  });

  it('without normalize, a byte batch holds v / 255', () => {
    const { x, indices } = classificationBatches(byteSplit, 4, { shuffle: false }).batch(1);
    expect(x[3]).toBe(Math.fround((bytes[(indices[0] as number) * IMAGE + 3] as number) / 255));
    expect(x).toEqual(floatSplit.images.subarray(4 * IMAGE, 8 * IMAGE));
  });
});

describe('language-model batching', () => {
  const ids = Int32Array.from({ length: 23 }, (_, i) => i);

  it('batchify cuts B contiguous streams, row-major [B, L], dropping the remainder', () => {
    const b = batchify(ids, 3);
    expect(b.stepsPerStream).toBe(7);
    expect([...b.data]).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(() => batchify(ids, 12)).toThrow(UserInputError);
    expect(() => batchify(ids, 12)).toThrow(/batch size 12 is too large for 23 tokens.*<= 11/);
  });

  it('bpttWindows gives [B, T] inputs and next-token targets, the last window shorter', () => {
    const b = batchify(ids, 3); // streams 0..6, 7..13, 14..20
    expect(bpttWindowCount(b, 4)).toBe(2);
    const windows = [...bpttWindows(b, 4)];
    expect(windows.map((w) => w.seqLen)).toEqual([4, 2]);
    expect([...(windows[0]?.input ?? [])]).toEqual([0, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 17]);
    expect([...(windows[0]?.target ?? [])]).toEqual([1, 2, 3, 4, 8, 9, 10, 11, 15, 16, 17, 18]);
    expect([...(windows[1]?.input ?? [])]).toEqual([4, 5, 11, 12, 18, 19]);
    expect([...(windows[1]?.target ?? [])]).toEqual([5, 6, 12, 13, 19, 20]);
    const resumed = [...bpttWindows(b, 4, 1)];
    expect(resumed).toEqual(windows.slice(1));
    expect(() => bpttWindows(b, 0)).toThrow(/seqLen must be a positive integer/);
    expect(() => bpttWindows(b, 4, 3)).toThrow(/startWindow must be an integer in \[0, 2\]/);
  });

  it('every target token of each stream is predicted exactly once per pass', () => {
    const stream = Int32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 997);
    const b = batchify(stream, 8);
    let targets = 0;
    for (const w of bpttWindows(b, 35)) targets += w.target.length;
    expect(targets).toBe(8 * (b.stepsPerStream - 1));
  });
});
