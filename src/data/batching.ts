import { checkPositiveInt, UserInputError } from '../errors.js';
import { Rng } from './rng.js';
import type { ImageSplit } from './types.js';

// Batches are plain typed arrays, not tensors: nothing here can leak GPU/wasm memory, and the
// training loop makes (and disposes) the tensors it needs with tf.tensor(x, [size, h, w, c]).

function checkImageShape(shape: readonly number[], what: string): [number, number, number] {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new UserInputError(
      `${what}: imageShape must be [height, width, channels], got [${shape.join(', ')}]`,
    );
  }
  return shape as [number, number, number];
}

/** CIFAR-style augmentation: random crop from a zero-padded image, then a random horizontal flip. */
export interface AugmentOptions {
  /** Pixels of padding on each side before the random crop back to the original size (default 4; 0 = no crop). */
  padding?: number;
  /** Flip each image left-right with probability `flipProbability` (default true). */
  flip?: boolean;
  /** Default 0.5. */
  flipProbability?: number;
  /** The value of the padding pixels (default 0, as torchvision's RandomCrop). */
  padValue?: number;
}

/**
 * Augments a batch of NHWC images `x` (`size * h * w * c` floats) into a new array of the same
 * shape. Per image, in this order, draws from `rng`: the crop offsets dy, dx (each uniform in
 * [0, 2·padding]) and, when flipping is on, one float for the flip; so the result depends only on
 * `x` and the rng state. Output pixel (i, j) is padded pixel (i + dy, j + dx) of the image padded
 * by `padding` on every side, read mirrored when flipped (crop, then flip, like torchvision's
 * `RandomCrop(32, padding=4)` + `RandomHorizontalFlip()`).
 */
export function augmentBatch(
  x: Float32Array,
  size: number,
  imageShape: readonly [number, number, number],
  rng: Rng,
  options: AugmentOptions = {},
): Float32Array {
  const [h, w, c] = checkImageShape(imageShape, 'augmentBatch');
  const padding = options.padding ?? 4;
  const flip = options.flip ?? true;
  const flipProbability = options.flipProbability ?? 0.5;
  const padValue = options.padValue ?? 0;
  if (!Number.isInteger(padding) || padding < 0) {
    throw new UserInputError(
      `augment padding must be a non-negative integer, got ${String(padding)}`,
    );
  }
  if (!(flipProbability >= 0 && flipProbability <= 1)) {
    throw new UserInputError(`flipProbability must be in [0, 1], got ${String(flipProbability)}`);
  }
  const imageSize = h * w * c;
  if (x.length !== size * imageSize) {
    throw new UserInputError(
      `augmentBatch: ${x.length} floats is not ${size} images of [${h}, ${w}, ${c}] (${size * imageSize})`,
    );
  }
  const out = new Float32Array(x.length);
  if (padValue !== 0) out.fill(padValue);
  for (let n = 0; n < size; n++) {
    const dy = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
    const dx = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
    const mirrored = flip && rng.nextFloat() < flipProbability;
    const base = n * imageSize;
    for (let i = 0; i < h; i++) {
      const si = i + dy;
      if (si < 0 || si >= h) continue;
      for (let j = 0; j < w; j++) {
        const sj = (mirrored ? w - 1 - j : j) + dx;
        if (sj < 0 || sj >= w) continue;
        const dst = base + (i * w + j) * c;
        const src = base + (si * w + sj) * c;
        for (let k = 0; k < c; k++) out[dst + k] = x[src + k] as number;
      }
    }
  }
  return out;
}

/** One mini-batch of an image split. */
export interface ClassificationBatch {
  /**
   * NHWC images, `size * h * w * c` floats (a fresh array the caller owns): bytes converted to
   * v / 255, then standardised with `normalize` and augmented when those options are given.
   */
  x: Float32Array;
  /** Labels, `size` class indices. */
  y: Int32Array;
  /** Number of examples (the last batch may be smaller unless `dropLast`). */
  size: number;
  /** The examples' indices in the split. */
  indices: Int32Array;
  /** Position of this batch in the epoch, 0-based. */
  batchIndex: number;
}

export interface ClassificationBatchOptions {
  /** Visit the examples in a random order (default true; needs `rng`). */
  shuffle?: boolean;
  /** Drives the shuffle and the augmentation. Required when `shuffle` or `augment` is on. */
  rng?: Rng;
  /** Skip the last, smaller batch (default false). */
  dropLast?: boolean;
  /**
   * Standardise every batch per channel, `(x − mean[c]) / std[c]`, as the batch is copied (compute
   * the stats on the training split with `channelStats` and use them for every split). The
   * channel count is the number of means.
   */
  normalize?: ChannelStats;
  /**
   * Augment every batch (see `augmentBatch`), after `normalize`, so padding pixels are
   * `padValue` (default 0, the mean) in normalised units; needs the dataset's `imageShape`.
   */
  augment?: AugmentOptions & { imageShape: readonly [number, number, number] };
  /** Iterate from this batch on (resuming an epoch); default 0. */
  startBatch?: number;
}

/**
 * One epoch over a split: a fixed example order, random access by batch index and iteration from
 * `startBatch`.
 */
export interface ClassificationEpoch extends Iterable<ClassificationBatch> {
  numBatches: number;
  batchSize: number;
  /** The epoch's example order (a permutation of 0..count-1; the identity without shuffle). */
  order: Int32Array;
  /** Batch `i` of the epoch; the same batch however many times and in whatever order it is asked. */
  batch(i: number): ClassificationBatch;
}

/**
 * An epoch of mini-batches over `split`. All of the epoch's randomness is drawn from `rng` here,
 * when the call is made: first the permutation (Fisher–Yates, count − 1 draws) when shuffling, then
 * one uint32 seed for augmentation when augmenting. Batch i is augmented with
 * `Rng.fromKey(seed, i)`, so any batch can be produced without producing the ones before it.
 * Hence, to resume an epoch at batch i: restore the rng state saved at the start of the epoch and
 * call again with `startBatch: i`; the batches match the uninterrupted run and the rng ends in the
 * same state (ready for the next epoch) whatever `startBatch` is.
 *
 * The split stays as it is (bytes stay bytes): each batch is converted to floats while it is
 * copied (see `ImageSplit.images`), so no full-size float copy of the data is ever made.
 */
export function classificationBatches(
  split: ImageSplit,
  batchSize: number,
  options: ClassificationBatchOptions = {},
): ClassificationEpoch {
  checkPositiveInt(batchSize, 'batchSize');
  const { count } = split;
  if (count < 1) throw new UserInputError('classificationBatches: the split has no examples');
  const shuffle = options.shuffle ?? true;
  const dropLast = options.dropLast ?? false;
  const { rng, augment } = options;
  if ((shuffle || augment !== undefined) && rng === undefined) {
    throw new UserInputError(
      'classificationBatches needs an rng (new Rng(seed)) to shuffle or augment; pass {rng} or {shuffle: false}',
    );
  }
  if (dropLast && batchSize > count) {
    throw new UserInputError(
      `batch size ${batchSize} is larger than the ${count} examples of the split, so dropLast leaves no batch; use a batch size <= ${count}`,
    );
  }
  const imageSize = split.images.length / count;
  if (!Number.isInteger(imageSize) || split.labels.length !== count) {
    throw new UserInputError(
      `classificationBatches: inconsistent split (${split.images.length} pixel values, ${split.labels.length} labels, count ${count})`,
    );
  }
  if (augment !== undefined) {
    const [h, w, c] = checkImageShape(augment.imageShape, 'classificationBatches augment');
    if (h * w * c !== imageSize) {
      throw new UserInputError(
        `augment imageShape [${h}, ${w}, ${c}] does not match the split's ${imageSize} pixel values per image`,
      );
    }
  }
  const copyImage = imageCopier(split.images, imageSize, options.normalize);
  const numBatches = dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
  const startBatch = options.startBatch ?? 0;
  if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > numBatches) {
    throw new UserInputError(
      `startBatch must be an integer in [0, ${numBatches}] (batches in this epoch), got ${String(startBatch)}`,
    );
  }
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (shuffle) (rng as Rng).shuffle(order);
  const augmentSeed = augment !== undefined ? (rng as Rng).nextUint32() : 0;

  const batch = (i: number): ClassificationBatch => {
    if (!Number.isInteger(i) || i < 0 || i >= numBatches) {
      throw new UserInputError(
        `batch index must be an integer in [0, ${numBatches}), got ${String(i)}`,
      );
    }
    const begin = i * batchSize;
    const size = Math.min(batchSize, count - begin);
    const indices = order.slice(begin, begin + size);
    let x: Float32Array = new Float32Array(size * imageSize);
    const y = new Int32Array(size);
    for (let k = 0; k < size; k++) {
      copyImage(indices[k] as number, x, k * imageSize);
      y[k] = split.labels[indices[k] as number] as number;
    }
    if (augment !== undefined) {
      x = augmentBatch(x, size, augment.imageShape, Rng.fromKey(augmentSeed, i), augment);
    }
    return { x, y, size, indices, batchIndex: i };
  };

  return {
    numBatches,
    batchSize,
    order,
    batch,
    *[Symbol.iterator]() {
      for (let i = startBatch; i < numBatches; i++) yield batch(i);
    },
  };
}

/** Per-channel mean and (population) standard deviation, in pixel-value units (bytes as v / 255). */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

/** The float32 pixel value a byte stands for (see `ImageSplit.images`). */
const byteValue = (v: number) => Math.fround(v / 255);

/**
 * Per-channel mean and std of an NHWC split (accumulated in float64), e.g. of the training set.
 * For bytes it counts each channel's 256 values (exactly) and sums `count · value` over them, so
 * it reads the data once and agrees with the same images stored as floats to float64 rounding.
 */
export function channelStats(split: ImageSplit, channels: number): ChannelStats {
  checkPositiveInt(channels, 'channels');
  const { images } = split;
  if (images.length === 0 || images.length % channels !== 0) {
    throw new UserInputError(
      `channelStats: ${images.length} pixel values is not a multiple of ${channels} channels`,
    );
  }
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  if (images instanceof Uint8Array) {
    // Counts stay exact in float64 up to 2^53 pixels per channel.
    const histogram = new Float64Array(channels * 256);
    for (let i = 0; i < images.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const bin = (c << 8) | (images[i + c] as number);
        histogram[bin] = (histogram[bin] as number) + 1;
      }
    }
    for (let c = 0; c < channels; c++) {
      for (let v = 0; v < 256; v++) {
        const n = histogram[(c << 8) | v] as number;
        const x = byteValue(v);
        sum[c] = (sum[c] as number) + n * x;
        sumSq[c] = (sumSq[c] as number) + n * x * x;
      }
    }
  } else {
    for (let i = 0; i < images.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const v = images[i + c] as number;
        sum[c] = (sum[c] as number) + v;
        sumSq[c] = (sumSq[c] as number) + v * v;
      }
    }
  }
  const n = images.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(0, s / n - (mean[c] as number) ** 2)));
  return { mean, std };
}

/**
 * The pixel values of `images` as floats: bytes become v / 255 (float32, as the batch builders
 * convert them); floats are returned as they are (the same array, not a copy). For whole-split
 * use only when floats are really needed: a byte split of CIFAR-10 is 184 MB, its floats 737 MB.
 */
export function imagesToFloat(images: Float32Array | Uint8Array): Float32Array {
  if (!(images instanceof Uint8Array)) return images;
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = byteValue(images[i] as number);
  return out;
}

/** Checks `stats` against images of `imageSize` values; returns the channel count. */
function checkStats(stats: ChannelStats, imageSize: number): number {
  const channels = stats.mean.length;
  if (channels === 0 || stats.std.length !== channels) {
    throw new UserInputError('normalize: mean and std need one value per channel');
  }
  stats.mean.forEach((m, c) => {
    if (!Number.isFinite(m)) {
      throw new UserInputError(`normalize: mean of channel ${c} is ${m}; it must be finite`);
    }
  });
  stats.std.forEach((s, c) => {
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new UserInputError(`normalize: std of channel ${c} is ${s}; it must be positive`);
    }
  });
  if (imageSize % channels !== 0) {
    throw new UserInputError(
      `normalize: ${imageSize} pixel values per image is not a multiple of ${channels} channels`,
    );
  }
  return channels;
}

/**
 * A function copying image `n` of `images` (`imageSize` values each) into `out` at `offset` as
 * floats: bytes become v / 255 (float32), and with `stats` every value x becomes
 * `(x − mean[c]) · (1 / std[c])` rounded to float32. Bytes go through a 256-entry table per
 * channel built with that same arithmetic, so a byte split and the same split stored as floats
 * give identical batches (given identical stats).
 */
function imageCopier(
  images: Float32Array | Uint8Array,
  imageSize: number,
  stats: ChannelStats | undefined,
): (n: number, out: Float32Array, offset: number) => void {
  const channels = stats === undefined ? 1 : checkStats(stats, imageSize);
  const mean = stats?.mean ?? [0];
  const scale = stats?.std.map((s) => 1 / s) ?? [1];
  if (images instanceof Uint8Array) {
    const table = new Float32Array(channels * 256);
    for (let c = 0; c < channels; c++) {
      for (let v = 0; v < 256; v++) {
        table[(c << 8) | v] =
          stats === undefined
            ? byteValue(v)
            : (byteValue(v) - (mean[c] as number)) * (scale[c] as number);
      }
    }
    return (n, out, offset) => {
      const src = n * imageSize;
      for (let i = 0; i < imageSize; i += channels) {
        for (let c = 0; c < channels; c++) {
          out[offset + i + c] = table[(c << 8) | (images[src + i + c] as number)] as number;
        }
      }
    };
  }
  if (stats === undefined) {
    return (n, out, offset) => out.set(images.subarray(n * imageSize, (n + 1) * imageSize), offset);
  }
  return (n, out, offset) => {
    const src = n * imageSize;
    for (let i = 0; i < imageSize; i += channels) {
      for (let c = 0; c < channels; c++) {
        out[offset + i + c] =
          ((images[src + i + c] as number) - (mean[c] as number)) * (scale[c] as number);
      }
    }
  };
}

/** A token stream cut into `batchSize` contiguous streams. */
export interface Batchified {
  /** Row-major `[batchSize, stepsPerStream]`: row b is `ids[b * stepsPerStream, (b + 1) * stepsPerStream)`. */
  data: Int32Array;
  batchSize: number;
  stepsPerStream: number;
}

/**
 * Cuts a token stream into `batchSize` equal contiguous streams, dropping the `ids.length mod
 * batchSize` trailing tokens, as `batchify` in PyTorch's word_language_model example (which stores
 * the transpose). Hidden state carried from window to window then follows each stream's text.
 */
export function batchify(ids: Int32Array, batchSize: number): Batchified {
  checkPositiveInt(batchSize, 'batchSize');
  const stepsPerStream = Math.floor(ids.length / batchSize);
  if (stepsPerStream < 2) {
    throw new UserInputError(
      `batch size ${batchSize} is too large for ${ids.length} tokens: each of the ${batchSize} streams needs at least 2 tokens (an input and its target); use a batch size <= ${Math.floor(ids.length / 2)}`,
    );
  }
  return { data: ids.slice(0, stepsPerStream * batchSize), batchSize, stepsPerStream };
}

/** One BPTT window: row-major `[batchSize, seqLen]` inputs and next-token targets. */
export interface BpttWindow {
  input: Int32Array;
  target: Int32Array;
  /** Time steps in this window; the last window may be shorter than requested. */
  seqLen: number;
  batchSize: number;
  /** Position of the window in the pass, 0-based. */
  index: number;
}

function checkSeqLen(seqLen: number): void {
  checkPositiveInt(seqLen, 'seqLen');
}

/** Number of windows in one pass: `ceil((stepsPerStream − 1) / seqLen)`. */
export function bpttWindowCount(batchified: Batchified, seqLen: number): number {
  checkSeqLen(seqLen);
  return Math.ceil((batchified.stepsPerStream - 1) / seqLen);
}

/**
 * Window `index`: time steps `[index·seqLen, index·seqLen + T)` of every stream as input and the
 * steps one later as target, `T = min(seqLen, stepsPerStream − 1 − index·seqLen)`.
 */
export function bpttWindow(batchified: Batchified, index: number, seqLen: number): BpttWindow {
  const count = bpttWindowCount(batchified, seqLen);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new UserInputError(
      `BPTT window index must be an integer in [0, ${count}), got ${String(index)}`,
    );
  }
  const { data, batchSize, stepsPerStream } = batchified;
  const start = index * seqLen;
  const t = Math.min(seqLen, stepsPerStream - 1 - start);
  const input = new Int32Array(batchSize * t);
  const target = new Int32Array(batchSize * t);
  for (let b = 0; b < batchSize; b++) {
    const row = b * stepsPerStream + start;
    input.set(data.subarray(row, row + t), b * t);
    target.set(data.subarray(row + 1, row + 1 + t), b * t);
  }
  return { input, target, seqLen: t, batchSize, index };
}

/** The windows of one pass in order, from `startWindow` (to resume) on. Arguments are checked now. */
export function bpttWindows(
  batchified: Batchified,
  seqLen: number,
  startWindow = 0,
): IterableIterator<BpttWindow> {
  const count = bpttWindowCount(batchified, seqLen);
  if (!Number.isInteger(startWindow) || startWindow < 0 || startWindow > count) {
    throw new UserInputError(
      `startWindow must be an integer in [0, ${count}], got ${String(startWindow)}`,
    );
  }
  return (function* () {
    for (let i = startWindow; i < count; i++) yield bpttWindow(batchified, i, seqLen);
  })();
}
