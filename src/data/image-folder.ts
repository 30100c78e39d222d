import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UserInputError } from '../errors.js';
import {
  CACHE_ENV,
  hashParts,
  PartsHash,
  readCacheFile,
  resolveCacheDir,
  writeCacheFile,
} from './cache.js';
import { CIFAR10_CLASS_NAMES } from './cifar.js';
import { Rng } from './rng.js';
import type { ImageClassificationDataset } from './types.js';
import { applyLimit, requireDir, type SplitLimits } from './util.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
/** Bumped whenever decoding or the cached layout changes, so old cache files stop matching. */
const CACHE_FORMAT = 'image-folder-v2';
/** How many bad files an error lists by path before it says "and N more". */
const MAX_LISTED_PROBLEMS = 10;

/** The package root: the nearest folder above this module holding our package.json. */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (
          (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name ===
          'weight-prediction'
        ) {
          return dir;
        }
      } catch {
        // An unreadable package.json is not ours; keep walking up.
      }
    }
    if (dirname(dir) === dir) return resolve(here, '..', '..'); // src/data or dist/data
  }
}

/**
 * Where the development and CI machines keep CIFAR-10 as JPEG folders:
 * `../shared/datasets/cifar10-jpeg` next to the repository. Other machines do not have it; see
 * `defaultCifar10JpegDir`.
 */
export const DEFAULT_CIFAR10_JPEG_DIR = resolve(
  packageRoot(),
  '..',
  'shared',
  'datasets',
  'cifar10-jpeg',
);

/** `DEFAULT_CIFAR10_JPEG_DIR` when that folder exists on this machine, else undefined. */
export function defaultCifar10JpegDir(): string | undefined {
  return isDir(DEFAULT_CIFAR10_JPEG_DIR) ? DEFAULT_CIFAR10_JPEG_DIR : undefined;
}

/** What one `loadImageFolder` call did, for progress messages and tests. */
export interface ImageFolderLoadInfo {
  /** `cache`: read from a valid cache file; `decoded`: decoded from the image files. */
  source: 'cache' | 'decoded';
  /** The cache file read or written; null when caching is off. */
  cacheFile: string | null;
  /** Why the cache could not be written, when it could not (the data still loaded). */
  cacheWriteError?: string;
  /** Images in train + test. */
  images: number;
  seconds: number;
}

export interface ImageFolderOptions extends SplitLimits {
  /**
   * Class folder names in label order. Default: the class folders found, sorted by name (as Keras'
   * `image_dataset_from_directory` and torchvision's `ImageFolder`). When given, it must name
   * exactly the class folders present.
   */
  classNames?: string[];
  /** Dataset name (default `image-folder`). */
  name?: string;
  /** `[height, width]` every image must have (default: the size of the first image). */
  imageSize?: [number, number];
  /**
   * Fraction of each class held out as the test split when the folder has no `test/` split
   * (default 0.2). An error when there is a `test/` folder, so a split is never silently ignored.
   */
  validationSplit?: number;
  /** Seed of that held-out split (default 0). */
  seed?: number;
  /**
   * Folder for the decoded-array cache, or false for none. Default: `resolveCacheDir()`, i.e.
   * `$WEIGHT_PREDICTION_CACHE`, `$XDG_CACHE_HOME/weight-prediction` or `~/.cache/weight-prediction`.
   */
  cacheDir?: string | false;
  /** Called once the data is loaded, with where it came from and how long it took. */
  onLoad?: (info: ImageFolderLoadInfo) => void;
}

interface ImageFile {
  path: string;
  /** Path relative to the dataset root, part of the cache key. */
  rel: string;
  label: number;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Subfolder names of `dir`, sorted; hidden folders (`.git`, `.ipynb_checkpoints`) are skipped. */
function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || isDir(join(dir, e.name))))
    .map((e) => e.name)
    .sort();
}

/** Checks that `dir` holds exactly the class folders `classNames` (in any order). */
function checkClassFolders(dir: string, classNames: readonly string[]): void {
  const found = subfolders(dir);
  const missing = classNames.filter((c) => !found.includes(c));
  const extra = found.filter((c) => !classNames.includes(c));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      ...(missing.length > 0 ? [`missing class folder(s) ${missing.join(', ')}`] : []),
      ...(extra.length > 0 ? [`unexpected folder(s) ${extra.join(', ')}`] : []),
    ];
    throw new UserInputError(
      `${dir}: ${parts.join('; ')}. Expected one folder per class: ${classNames.join(', ')}`,
    );
  }
}

/** The image files of each class folder under `dir`, sorted by name; an empty class is an error. */
function listClasses(root: string, dir: string, classNames: readonly string[]): ImageFile[][] {
  const sub = relative(root, dir).split(sep).join('/');
  const prefix = sub === '' ? '' : `${sub}/`;
  return classNames.map((name, label) => {
    const classDir = join(dir, name);
    const files = readdirSync(classDir)
      .filter((f) => !f.startsWith('.') && IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort()
      .map((f) => ({ path: `${classDir}${sep}${f}`, rel: `${prefix}${name}/${f}`, label }));
    if (files.length === 0) {
      throw new UserInputError(
        `class folder ${join(dir, name)} holds no .jpg, .jpeg or .png images: add images or remove the folder`,
      );
    }
    return files;
  });
}

/**
 * One list in a class-balanced order: each class's files in name order, taken round-robin over the
 * classes (class 0's first, class 1's first, …), so a limit keeps about as many of each class.
 */
function interleave(perClass: readonly ImageFile[][]): ImageFile[] {
  const longest = Math.max(...perClass.map((files) => files.length));
  const out: ImageFile[] = [];
  for (let i = 0; i < longest; i++) {
    for (const files of perClass) {
      const file = files[i];
      if (file !== undefined) out.push(file);
    }
  }
  return out;
}

/** Holds out `fraction` of each class (at least one image, never all) with a seeded shuffle. */
function splitClasses(
  perClass: readonly ImageFile[][],
  fraction: number,
  seed: number,
): { train: ImageFile[][]; test: ImageFile[][] } {
  const rng = new Rng(seed);
  const train: ImageFile[][] = [];
  const test: ImageFile[][] = [];
  for (const files of perClass) {
    if (files.length < 2) {
      throw new UserInputError(
        `${dirname(files[0]!.path)} holds one image: a validation split needs at least 2 per class`,
      );
    }
    const held = Math.min(files.length - 1, Math.max(1, Math.round(files.length * fraction)));
    const order = rng.permutation(files.length);
    const picked = new Set(Array.from(order.subarray(0, held)));
    // Keep name order within each part, so the split depends on the seed only.
    test.push(files.filter((_, i) => picked.has(i)));
    train.push(files.filter((_, i) => !picked.has(i)));
  }
  return { train, test };
}

interface Layout {
  classNames: string[];
  train: ImageFile[];
  test: ImageFile[];
}

/** Finds the splits and classes of a folder and lists its files (no decoding). */
function listLayout(dir: string, options: ImageFolderOptions): Layout {
  requireDir(
    dir,
    'image',
    'Pass a folder holding train/<class>/ (and test/<class>/) subfolders, or <class>/ subfolders.',
  );
  const hasTrain = isDir(join(dir, 'train'));
  const classRoot = hasTrain ? join(dir, 'train') : dir;
  const testDir = hasTrain && isDir(join(dir, 'test')) ? join(dir, 'test') : undefined;
  let classNames: string[];
  if (options.classNames !== undefined) {
    classNames = [...options.classNames];
    if (new Set(classNames).size !== classNames.length || classNames.some((c) => c === '')) {
      throw new UserInputError(
        `classNames must be distinct non-empty folder names, got ${JSON.stringify(classNames)}`,
      );
    }
    checkClassFolders(classRoot, classNames);
  } else {
    classNames = subfolders(classRoot);
  }
  if (classNames.length < 2) {
    throw new UserInputError(
      `${classRoot}: need at least 2 class folders, found ${classNames.length}. Expected <class>/ folders of images${hasTrain ? '' : ', or train/<class>/ and test/<class>/'}`,
    );
  }
  const perClass = listClasses(dir, classRoot, classNames);
  let trainPerClass: ImageFile[][];
  let testPerClass: ImageFile[][];
  if (testDir !== undefined) {
    if (options.validationSplit !== undefined) {
      throw new UserInputError(
        `validationSplit ${options.validationSplit} given, but ${dir} has a test/ folder, which is the test split: drop validationSplit, or move the test folder away`,
      );
    }
    checkClassFolders(testDir, classNames);
    trainPerClass = perClass;
    testPerClass = listClasses(dir, testDir, classNames);
  } else {
    const fraction = options.validationSplit ?? 0.2;
    if (!(fraction > 0 && fraction < 1)) {
      throw new UserInputError(
        `validationSplit must be a fraction in (0, 1), got ${String(fraction)}`,
      );
    }
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new UserInputError(`seed must be a non-negative integer, got ${String(seed)}`);
    }
    ({ train: trainPerClass, test: testPerClass } = splitClasses(perClass, fraction, seed));
  }
  const train = interleave(trainPerClass);
  const test = interleave(testPerClass);
  return {
    classNames,
    train: train.slice(0, applyLimit(options.trainLimit, train.length, 'trainLimit')),
    test: test.slice(0, applyLimit(options.testLimit, test.length, 'testLimit')),
  };
}

/** RGB bytes of one JPEG or PNG file (grey is replicated, alpha dropped); throws on bad files. */
function decodeRgb(
  bytes: Buffer,
  png: boolean,
): { width: number; height: number; rgb: Uint8Array } {
  let width: number;
  let height: number;
  let data: Uint8Array;
  if (png) {
    const image = PNG.sync.read(bytes);
    ({ width, height } = image);
    data = image.data; // always RGBA
  } else {
    // maxMemoryUsageInMB bounds what a hostile header can make jpeg-js allocate.
    const image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxMemoryUsageInMB: 256,
    });
    ({ width, height, data } = image);
  }
  const pixels = width * height;
  const channels = pixels > 0 ? data.length / pixels : 0;
  if (channels === 3) return { width, height, rgb: data };
  if (channels !== 1 && channels !== 4) {
    throw new Error(`unsupported image with ${channels} channels`);
  }
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      rgb[p * 3 + c] = data[p * channels + (channels === 1 ? 0 : c)] as number;
    }
  }
  return { width, height, rgb };
}

interface Decoded {
  height: number;
  width: number;
  train: { pixels: Uint8Array; labels: Int32Array };
  test: { pixels: Uint8Array; labels: Int32Array };
}

/**
 * Decodes every file to RGB bytes, collecting unreadable and mis-sized files so one error lists
 * them all by path (up to `MAX_LISTED_PROBLEMS`), rather than failing one fix at a time.
 */
function decodeAll(layout: Layout, imageSize: [number, number] | undefined): Decoded {
  const problems: string[] = [];
  let size: { height: number; width: number; from: string } | undefined = imageSize && {
    height: imageSize[0],
    width: imageSize[1],
    from: 'imageSize',
  };
  const decodeSplit = (files: ImageFile[]) => {
    let pixels: Uint8Array | undefined;
    const labels = new Int32Array(files.length);
    files.forEach((file, n) => {
      labels[n] = file.label;
      let image: ReturnType<typeof decodeRgb>;
      try {
        image = decodeRgb(readFileSync(file.path), extname(file.path).toLowerCase() === '.png');
      } catch (error) {
        problems.push(`${file.path}: cannot decode (${(error as Error).message})`);
        return;
      }
      size ??= { height: image.height, width: image.width, from: `the first image, ${file.path}` };
      if (image.width !== size.width || image.height !== size.height) {
        problems.push(
          `${file.path}: is ${image.width}x${image.height}, expected ${size.width}x${size.height} (${size.from})`,
        );
        return;
      }
      pixels ??= new Uint8Array(files.length * image.rgb.length);
      pixels.set(image.rgb, n * image.rgb.length);
    });
    return { pixels: pixels ?? new Uint8Array(0), labels };
  };
  const train = decodeSplit(layout.train);
  const test = decodeSplit(layout.test);
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).join('; ');
    const more =
      problems.length > MAX_LISTED_PROBLEMS
        ? `; and ${problems.length - MAX_LISTED_PROBLEMS} more`
        : '';
    throw new UserInputError(
      `${problems.length} bad image file(s): ${listed}${more}. Fix or remove them (all images must be readable JPEG/PNG of one size)`,
    );
  }
  const { height, width } = size as { height: number; width: number };
  return { height, width, train, test };
}

/**
 * The cache key of a listing: the files' relative paths, labels, sizes and modification times
 * (not their contents: stat-ing 60,000 files takes ~0.3 s here, reading them ~1.3 s, and any
 * edit, copy or re-download changes the size or the mtime).
 */
function contentKey(layout: Layout, imageSize: [number, number] | undefined): string {
  const hash = new PartsHash()
    .add(CACHE_FORMAT)
    .add(JSON.stringify(layout.classNames))
    .add(JSON.stringify(imageSize ?? null));
  for (const [split, files] of [
    ['train', layout.train],
    ['test', layout.test],
  ] as const) {
    hash.add(`${split}:${files.length}`);
    for (const file of files) {
      const stat = statSync(file.path);
      hash.add(`${file.rel}\0${file.label}\0${stat.size}\0${stat.mtimeMs}`);
    }
  }
  return hash.digest();
}

/**
 * An image-classification dataset from class folders, like torchvision's `ImageFolder` and Keras'
 * `image_dataset_from_directory`:
 * - `dir/train/<class>/` and `dir/test/<class>/`: the two splits;
 * - `dir/train/<class>/` alone, or `dir/<class>/`: a seeded, per-class `validationSplit` of it.
 *
 * Labels follow `classNames` (default: folder names sorted). JPEG and PNG files (by extension;
 * other and hidden files are ignored) are decoded to NHWC RGB bytes (a `Uint8Array`: byte v is
 * the value v / 255, converted per batch; see `ImageSplit.images`); all must have one size
 * (`imageSize`, or the first image's). Bad files are reported by path, an empty class folder
 * is an error. Order within a split is class-balanced (see `interleave`); `trainLimit` /
 * `testLimit` keep the first N of it.
 *
 * The decoded bytes are cached in one file under `cacheDir` (see `resolveCacheDir`), named by the
 * folder and options and checked against a hash of the file list, sizes and mtimes; a stale or
 * damaged cache is decoded again and rewritten. CIFAR-10 (60,000 JPEGs) takes ~10–20 s to decode
 * and ~0.6 s from the cache on the 2-core development machine (stat-ing the 60,000 files for the
 * key, reading and checksumming the 184 MB file); the bytes are returned as they are, no float copy.
 */
export function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): ImageClassificationDataset {
  const started = performance.now();
  if (options.imageSize !== undefined) {
    const [h, w] = options.imageSize;
    if (
      options.imageSize.length !== 2 ||
      ![h, w].every((n) => Number.isSafeInteger(n) && (n as number) > 0)
    ) {
      throw new UserInputError(
        `imageSize must be [height, width] of positive integers, got ${JSON.stringify(options.imageSize)}`,
      );
    }
  }
  const layout = listLayout(dir, options);
  const name = options.name ?? 'image-folder';

  let cacheFile: string | null = null;
  let key = '';
  let decoded: Decoded | undefined;
  let source: ImageFolderLoadInfo['source'] = 'decoded';
  let cacheWriteError: string | undefined;
  if (options.cacheDir !== false) {
    const identity = hashParts([
      CACHE_FORMAT,
      realpathSync(dir),
      JSON.stringify([options.classNames ?? null, options.imageSize ?? null]),
      JSON.stringify([options.trainLimit ?? null, options.testLimit ?? null]),
      JSON.stringify([options.validationSplit ?? null, options.seed ?? null]),
    ]).slice(0, 24);
    cacheFile = join(
      resolveCacheDir(options.cacheDir),
      `${name.replace(/[^\w.-]+/g, '_')}-${identity}.bin`,
    );
    key = contentKey(layout, options.imageSize);
    const cached = readCacheFile(cacheFile, key);
    const meta = cached?.meta as { height?: unknown; width?: unknown } | undefined;
    const expected = [layout.train.length, layout.test.length];
    if (
      cached !== undefined &&
      typeof meta?.height === 'number' &&
      typeof meta.width === 'number' &&
      cached.sections.length === 4
    ) {
      const [trainPixels, trainLabels, testPixels, testLabels] = cached.sections as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
      const imageBytes = meta.height * meta.width * 3;
      const ok = [trainPixels, testPixels].every(
        (p, i) => p.length === (expected[i] as number) * imageBytes,
      );
      const labelsOk = [trainLabels, testLabels].every(
        (l, i) => l.byteLength === (expected[i] as number) * 4,
      );
      if (ok && labelsOk) {
        decoded = {
          height: meta.height,
          width: meta.width,
          train: {
            pixels: trainPixels,
            labels: new Int32Array(trainLabels.buffer, trainLabels.byteOffset, expected[0]).slice(),
          },
          test: {
            pixels: testPixels,
            labels: new Int32Array(testLabels.buffer, testLabels.byteOffset, expected[1]).slice(),
          },
        };
        source = 'cache';
      }
    }
  }
  if (decoded === undefined) {
    decoded = decodeAll(layout, options.imageSize);
    if (cacheFile !== null) {
      const asBytes = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      try {
        writeCacheFile(
          cacheFile,
          key,
          { height: decoded.height, width: decoded.width, dir: resolve(dir) },
          [
            decoded.train.pixels,
            asBytes(decoded.train.labels),
            decoded.test.pixels,
            asBytes(decoded.test.labels),
          ],
        );
      } catch (error) {
        // A cache is a shortcut: an unwritable cache folder must not stop the data from loading.
        cacheWriteError = (error as Error).message;
        process.emitWarning(
          `could not write the image cache ${cacheFile} (${cacheWriteError}); set ${CACHE_ENV} to a writable folder`,
        );
      }
    }
  }
  const dataset: ImageClassificationDataset = {
    name,
    imageShape: [decoded.height, decoded.width, 3],
    numClasses: layout.classNames.length,
    classNames: layout.classNames,
    train: {
      images: decoded.train.pixels,
      labels: decoded.train.labels,
      count: layout.train.length,
    },
    test: { images: decoded.test.pixels, labels: decoded.test.labels, count: layout.test.length },
  };
  options.onLoad?.({
    source,
    cacheFile,
    ...(cacheWriteError !== undefined && { cacheWriteError }),
    images: layout.train.length + layout.test.length,
    seconds: (performance.now() - started) / 1000,
  });
  return dataset;
}

/** Options of `loadCifar10Jpeg`: limits and the cache settings of `loadImageFolder`. */
export type Cifar10JpegOptions = SplitLimits & Pick<ImageFolderOptions, 'cacheDir' | 'onLoad'>;

/**
 * CIFAR-10 as 32×32 images in class folders, `train/<class>/` and `test/<class>/` with the ten
 * CIFAR-10 class names (5,000 train and 1,000 test images per class in the full set). Labels in the
 * official order (airplane 0 … truck 9). JPEG is lossy, so pixels differ slightly from the official
 * binary release (`loadCifar10`).
 * @param dir default: `DEFAULT_CIFAR10_JPEG_DIR`, present on the development machines only.
 */
export function loadCifar10Jpeg(
  dir?: string,
  options: Cifar10JpegOptions = {},
): ImageClassificationDataset {
  const root = dir ?? defaultCifar10JpegDir();
  if (root === undefined) {
    throw new UserInputError(
      `CIFAR-10 image folder not found at ${DEFAULT_CIFAR10_JPEG_DIR}: pass the folder holding train/<class>/ and test/<class>/ (or, in the CLI, --data-dir)`,
    );
  }
  return loadImageFolder(root, {
    ...options,
    classNames: CIFAR10_CLASS_NAMES,
    imageSize: [32, 32],
    name: 'cifar10-jpeg',
  });
}
