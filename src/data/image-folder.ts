import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UserInputError } from '../errors.js';
import { CIFAR10_CLASS_NAMES } from './cifar.js';
import type { ImageClassificationDataset, ImageSplit } from './types.js';
import { applyLimit, requireDir, type SplitLimits } from './util.js';

export const DEFAULT_CIFAR10_JPEG_DIR = '/work/shared/datasets/cifar10-jpeg';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

export interface ImageFolderOptions extends SplitLimits {
  /** Class folder names in label order (default: the folder names of `train/`, sorted). */
  classNames?: string[];
  /** Dataset name (default `image-folder`). */
  name?: string;
}

/** RGB bytes of one JPEG or PNG file (grey is replicated, alpha dropped). */
function decodeRgb(path: string): { width: number; height: number; rgb: Uint8Array } {
  const bytes = readFileSync(path);
  let width: number;
  let height: number;
  let data: Uint8Array;
  try {
    if (extname(path).toLowerCase() === '.png') {
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      data = png.data; // always RGBA
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      ({ width, height, data } = img);
    }
  } catch (err) {
    throw new UserInputError(`cannot decode image ${path}: ${(err as Error).message}`);
  }
  const pixels = width * height;
  const channels = data.length / pixels;
  if (channels === 3) return { width, height, rgb: data };
  if (channels !== 1 && channels !== 4) {
    throw new UserInputError(`${path}: unsupported image with ${channels} channels`);
  }
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++)
      rgb[p * 3 + c] = data[p * channels + (channels === 1 ? 0 : c)] as number;
  }
  return { width, height, rgb };
}

/**
 * The image files of one split, in a class-balanced order: files sorted by name within each class,
 * then taken round-robin over the classes (class 0's first, class 1's first, …). So a `limit` keeps
 * about the same number of each class.
 */
function listSplit(dir: string, classNames: string[]): { path: string; label: number }[] {
  const perClass = classNames.map((name, label) => {
    const classDir = join(dir, name);
    if (!existsSync(classDir) || !statSync(classDir).isDirectory()) {
      throw new UserInputError(`class folder not found: ${classDir}`);
    }
    return readdirSync(classDir)
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort()
      .map((f) => ({ path: join(classDir, f), label }));
  });
  const longest = Math.max(...perClass.map((files) => files.length));
  const out: { path: string; label: number }[] = [];
  for (let i = 0; i < longest; i++) {
    for (const files of perClass) {
      const file = files[i];
      if (file !== undefined) out.push(file);
    }
  }
  if (out.length === 0) throw new UserInputError(`no .jpg, .jpeg or .png images under ${dir}`);
  return out;
}

function readSplit(
  files: { path: string; label: number }[],
  limit: number | undefined,
  limitName: string,
  shape: { width: number; height: number } | undefined,
): { split: ImageSplit; width: number; height: number } {
  const count = applyLimit(limit, files.length, limitName);
  let images: Float32Array | undefined;
  let size = shape;
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const { path, label } = files[n] as { path: string; label: number };
    const { width, height, rgb } = decodeRgb(path);
    if (size === undefined) size = { width, height };
    if (width !== size.width || height !== size.height) {
      throw new UserInputError(
        `${path} is ${width}x${height} but the other images are ${size.width}x${size.height}; resize them to one size`,
      );
    }
    images ??= new Float32Array(count * rgb.length);
    const base = n * rgb.length;
    for (let k = 0; k < rgb.length; k++) images[base + k] = (rgb[k] as number) / 255;
    labels[n] = label;
  }
  const { width, height } = size as { width: number; height: number };
  return { split: { images: images ?? new Float32Array(0), labels, count }, width, height };
}

/**
 * An image-classification dataset from a class-per-folder tree, `dir/train/<class>/*.jpg|png` and
 * `dir/test/<class>/*`, like torchvision's `ImageFolder`. Labels follow `classNames` (default: the
 * train folder names sorted). Images are decoded to NHWC RGB float32 in [0, 1] and must all be
 * the same size; the order within a split is class-balanced (see `listSplit`), and
 * `trainLimit` / `testLimit` decode only the first N files (decoding is ~0.5 ms per 32×32 JPEG).
 */
export function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): ImageClassificationDataset {
  requireDir(dir, 'image', 'Pass a folder holding train/<class>/ and test/<class>/ subfolders.');
  requireDir(
    join(dir, 'train'),
    'image train',
    `Expected ${join(dir, 'train', '<class>')}/ folders.`,
  );
  requireDir(join(dir, 'test'), 'image test', `Expected ${join(dir, 'test', '<class>')}/ folders.`);
  const classNames =
    options.classNames ??
    readdirSync(join(dir, 'train'))
      .filter((f) => statSync(join(dir, 'train', f)).isDirectory())
      .sort();
  if (classNames.length < 2) {
    throw new UserInputError(
      `${join(dir, 'train')}: need at least 2 class folders, found ${classNames.length}`,
    );
  }
  const train = readSplit(
    listSplit(join(dir, 'train'), classNames),
    options.trainLimit,
    'trainLimit',
    undefined,
  );
  const test = readSplit(listSplit(join(dir, 'test'), classNames), options.testLimit, 'testLimit', {
    width: train.width,
    height: train.height,
  });
  return {
    name: options.name ?? 'image-folder',
    imageShape: [train.height, train.width, 3],
    numClasses: classNames.length,
    classNames: [...classNames],
    train: train.split,
    test: test.split,
  };
}

/**
 * CIFAR-10 as 32×32 JPEG files in class folders (the copy under /work/shared/datasets/cifar10-jpeg:
 * 5,000 train and 1,000 test images per class). JPEG is lossy, so pixels differ slightly from the
 * official binary release (`loadCifar10`). Labels in the official order (airplane 0 … truck 9).
 */
export function loadCifar10Jpeg(
  dir: string = DEFAULT_CIFAR10_JPEG_DIR,
  options: SplitLimits = {},
): ImageClassificationDataset {
  return loadImageFolder(dir, {
    ...options,
    classNames: CIFAR10_CLASS_NAMES,
    name: 'cifar10-jpeg',
  });
}
