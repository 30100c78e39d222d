import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { ImageClassificationDataset, ImageSplit } from './types.js';
import { applyLimit, requireDir, type SplitLimits } from './util.js';

const SIDE = 32;
const CHANNELS = 3;
/** Pixels per record: 3 planes (R, G, B) of 32×32, each row-major (CHW). */
export const CIFAR_IMAGE_BYTES = SIDE * SIDE * CHANNELS;

export const CIFAR10_CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

export interface Cifar100Options extends SplitLimits {
  /** Which label to use: the 100 `fine` classes (default) or the 20 `coarse` superclasses. */
  label?: 'fine' | 'coarse';
}

/**
 * Accepts the folder holding the `.bin` files or its parent (where the official tarball unpacks to
 * `cifar-10-batches-bin/` or `cifar-100-binary/`).
 */
function resolveDir(dir: string, subfolder: string, firstFile: string, what: string): string {
  requireDir(
    dir,
    what,
    `Download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and pass the folder holding ${firstFile}.`,
  );
  if (!existsSync(join(dir, firstFile)) && existsSync(join(dir, subfolder, firstFile))) {
    return join(dir, subfolder);
  }
  return dir;
}

function readBinary(path: string): Buffer {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UserInputError(`CIFAR binary file not found: ${path}`);
  }
  return readFileSync(path);
}

/**
 * Decodes the records of CIFAR binary files into one NHWC split of bytes (see `ImageSplit.images`). A record is `labelBytes` label
 * bytes followed by 3072 pixel bytes in CHW order; `labelIndex` picks which label byte is the class.
 */
function readRecords(
  paths: string[],
  labelBytes: number,
  labelIndex: number,
  numClasses: number,
  limit: number | undefined,
  limitName: string,
): ImageSplit {
  const recordBytes = labelBytes + CIFAR_IMAGE_BYTES;
  const buffers = paths.map((path) => {
    const buf = readBinary(path);
    if (buf.length === 0 || buf.length % recordBytes !== 0) {
      throw new UserInputError(
        `${path}: size mismatch: ${buf.length} bytes is not a whole number of ${recordBytes}-byte CIFAR records (truncated, or the wrong CIFAR version?)`,
      );
    }
    return { path, buf };
  });
  const available = buffers.reduce((n, b) => n + b.buf.length / recordBytes, 0);
  const count = applyLimit(limit, available, limitName);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(count);
  const plane = SIDE * SIDE;
  let n = 0;
  for (const { path, buf } of buffers) {
    for (let r = 0; r * recordBytes < buf.length && n < count; r++, n++) {
      const base = r * recordBytes;
      const label = buf[base + labelIndex] as number;
      if (label >= numClasses) {
        throw new UserInputError(
          `${path}: record ${r} has label ${label}, outside [0, ${numClasses}) (wrong CIFAR version?)`,
        );
      }
      labels[n] = label;
      const src = base + labelBytes;
      const dst = n * CIFAR_IMAGE_BYTES;
      // CHW → HWC: pixel p of channel c moves to p * 3 + c.
      for (let c = 0; c < CHANNELS; c++) {
        const srcPlane = src + c * plane;
        for (let p = 0; p < plane; p++) {
          images[dst + p * CHANNELS + c] = buf[srcPlane + p] as number;
        }
      }
    }
  }
  return { images, labels, count };
}

/** Non-empty trimmed lines of a names file, or `fallback` when the file is absent. */
function readNames(path: string, expected: number, fallback: string[]): string[] {
  if (!existsSync(path)) return fallback;
  const names = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw new UserInputError(`${path}: expected ${expected} class names, found ${names.length}`);
  }
  return names;
}

/**
 * CIFAR-10 from the official binary version: `data_batch_1.bin` … `data_batch_5.bin` (train, in
 * that order) and `test_batch.bin`, records of 1 label byte + 3072 CHW pixel bytes. Images become
 * NHWC bytes (a `Uint8Array`, byte v standing for v / 255; see `ImageSplit.images`), imageShape
 * `[32, 32, 3]`; class names from `batches.meta.txt` when present.
 * @param dir the folder with the `.bin` files, or its parent holding `cifar-10-batches-bin/`.
 */
export function loadCifar10(dir: string, options: SplitLimits = {}): ImageClassificationDataset {
  const root = resolveDir(dir, 'cifar-10-batches-bin', 'data_batch_1.bin', 'CIFAR-10');
  const trainFiles = [1, 2, 3, 4, 5].map((i) => join(root, `data_batch_${i}.bin`));
  return {
    name: 'cifar10',
    imageShape: [SIDE, SIDE, CHANNELS],
    numClasses: 10,
    classNames: readNames(join(root, 'batches.meta.txt'), 10, CIFAR10_CLASS_NAMES),
    train: readRecords(trainFiles, 1, 0, 10, options.trainLimit, 'trainLimit'),
    test: readRecords([join(root, 'test_batch.bin')], 1, 0, 10, options.testLimit, 'testLimit'),
  };
}

/**
 * CIFAR-100 from the official binary version: `train.bin` and `test.bin`, records of 2 label bytes
 * (coarse, fine) + 3072 CHW pixel bytes. Uses the fine label (100 classes) unless
 * `label: 'coarse'` (20 superclasses). Class names from `fine_label_names.txt` /
 * `coarse_label_names.txt` when present, else the class numbers as strings.
 * @param dir the folder with the `.bin` files, or its parent holding `cifar-100-binary/`.
 */
export function loadCifar100(
  dir: string,
  options: Cifar100Options = {},
): ImageClassificationDataset {
  const root = resolveDir(dir, 'cifar-100-binary', 'train.bin', 'CIFAR-100');
  const mode = options.label ?? 'fine';
  if (mode !== 'fine' && mode !== 'coarse') {
    throw new UserInputError(`CIFAR-100 label must be 'fine' or 'coarse', got ${String(mode)}`);
  }
  const numClasses = mode === 'fine' ? 100 : 20;
  const labelIndex = mode === 'fine' ? 1 : 0;
  const fallback = Array.from({ length: numClasses }, (_, i) => String(i));
  return {
    name: mode === 'fine' ? 'cifar100' : 'cifar100-coarse',
    imageShape: [SIDE, SIDE, CHANNELS],
    numClasses,
    classNames: readNames(join(root, `${mode}_label_names.txt`), numClasses, fallback),
    train: readRecords(
      [join(root, 'train.bin')],
      2,
      labelIndex,
      numClasses,
      options.trainLimit,
      'trainLimit',
    ),
    test: readRecords(
      [join(root, 'test.bin')],
      2,
      labelIndex,
      numClasses,
      options.testLimit,
      'testLimit',
    ),
  };
}
