import { UserInputError } from '../errors.js';
import { Rng } from './rng.js';
import type { ImageClassificationDataset, ImageSplit } from './types.js';

/**
 * Rng.fromKey(VALIDATION_STREAM) draws the held-out images. It does not depend on the run's seed:
 * every run of a task, whatever its seed or optimizer, trains and is tuned on the same split.
 */
const VALIDATION_STREAM = 0x7a11d;

function gather(split: ImageSplit, indices: Int32Array): ImageSplit {
  const pixels = split.images.length / split.count;
  const images =
    split.images instanceof Uint8Array
      ? new Uint8Array(indices.length * pixels)
      : new Float32Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  indices.forEach((from, to) => {
    images.set(split.images.subarray(from * pixels, (from + 1) * pixels), to * pixels);
    labels[to] = split.labels[from]!;
  });
  return { images, labels, count: indices.length };
}

/**
 * Holds `fraction` of the training images out as a validation split (rounded, at least one),
 * drawn with a fixed seed; the rest stay the training split, in their original order. The test
 * split is untouched.
 */
export function holdOutValidation(
  dataset: ImageClassificationDataset,
  fraction: number,
): ImageClassificationDataset & { valid: ImageSplit } {
  if (!Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) {
    throw new UserInputError(
      `Invalid validationFraction ${fraction}: expected a number in (0, 1), e.g. 0.1`,
    );
  }
  const n = dataset.train.count;
  const held = Math.max(1, Math.round(n * fraction));
  if (held >= n) {
    throw new UserInputError(
      `validationFraction ${fraction} of ${n} training images leaves none to train on: use a smaller fraction or more images`,
    );
  }
  const order = Rng.fromKey(VALIDATION_STREAM).permutation(n);
  const validIndices = order.slice(0, held).sort();
  const isValid = new Uint8Array(n);
  for (const i of validIndices) isValid[i] = 1;
  const trainIndices = new Int32Array(n - held);
  let k = 0;
  for (let i = 0; i < n; i++) if (!isValid[i]) trainIndices[k++] = i;
  return {
    ...dataset,
    train: gather(dataset.train, trainIndices),
    valid: gather(dataset.train, validIndices),
  };
}
