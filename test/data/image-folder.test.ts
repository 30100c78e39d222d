import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { CIFAR10_CLASS_NAMES } from '../../src/data/cifar.js';
import {
  DEFAULT_CIFAR10_JPEG_DIR,
  defaultCifar10JpegDir,
  loadCifar10Jpeg,
  loadImageFolder,
  type ImageFolderLoadInfo,
} from '../../src/data/image-folder.js';
import type { ImageSplit } from '../../src/data/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'image-folder-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A w×h PNG whose pixel (x, y) is RGB (value, x * 50, y * 80), alpha 255. */
function png(value: number, width = 4, height = 3): Buffer {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      image.data[i] = value;
      image.data[i + 1] = x * 50;
      image.data[i + 2] = y * 80;
      image.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(image);
}

/** A w×h JPEG of one solid colour (JPEG is lossy, but a flat colour decodes to within ±2). */
function solidJpeg(rgb: [number, number, number], width = 4, height = 3): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([...rgb, 255], p * 4);
  return jpeg.encode({ width, height, data }, 95).data;
}

/** Writes `files` (relative path → bytes) under a fresh folder `name` of the temp folder. */
function tree(name: string, files: Record<string, Buffer | string>): string {
  const root = join(tmp, name);
  for (const [rel, bytes] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, bytes);
  }
  return root;
}

const noCache = { cacheDir: false } as const;

describe('loadImageFolder: layouts, labels and decoding', () => {
  const dir = tree('tiny', {
    'train/cats/0.png': png(0),
    'train/cats/1.png': png(1),
    'train/cats/2.jpg': solidJpeg([200, 100, 50]),
    'train/dogs/0.png': png(100),
    'train/dogs/1.png': png(101),
    'train/dogs/2.png': png(102),
    'train/dogs/notes.txt': 'ignored: not an image',
    'train/dogs/.hidden.png': 'ignored: hidden',
    'test/cats/0.png': png(10),
    'test/dogs/0.jpeg': solidJpeg([0, 255, 0]),
  });
  const img = 3 * 4 * 3;

  it('decodes PNG and JPEG class folders into NHWC RGB bytes, class-balanced order', () => {
    const data = loadImageFolder(dir, noCache);
    expect(data.classNames).toEqual(['cats', 'dogs']);
    expect(data.numClasses).toBe(2);
    expect(data.imageShape).toEqual([3, 4, 3]);
    expect(data.train.count).toBe(6);
    expect(data.test.count).toBe(2);
    expect([...data.train.labels]).toEqual([0, 1, 0, 1, 0, 1]);
    expect([...data.test.labels]).toEqual([0, 1]);
    // Example 3 is dogs/1.png: R = 101; pixel (x=2, y=1) has G = 100, B = 80.
    const at = (n: number, x: number, y: number, c: number) =>
      data.train.images[n * img + (y * 4 + x) * 3 + c] as number;
    expect(data.train.images).toBeInstanceOf(Uint8Array); // byte v stands for v / 255
    expect(data.test.images).toBeInstanceOf(Uint8Array);
    expect(at(3, 2, 1, 0)).toBe(101);
    expect(at(3, 2, 1, 1)).toBe(100);
    expect(at(3, 2, 1, 2)).toBe(80);
    // Example 4 is cats/2.jpg, a flat (200, 100, 50).
    for (const [c, v] of [200, 100, 50].entries()) {
      expect(Math.abs(at(4, 3, 2, c) - v)).toBeLessThanOrEqual(3);
    }
    expect(Math.abs((data.test.images[img + 1] as number) - 255)).toBeLessThanOrEqual(3);
  });

  it('keeps the first N of the balanced order with trainLimit / testLimit', () => {
    const data = loadImageFolder(dir, { ...noCache, trainLimit: 3, testLimit: 1 });
    expect([...data.train.labels]).toEqual([0, 1, 0]);
    expect(data.train.images.length).toBe(3 * img);
    expect(data.test.count).toBe(1);
    expect(() => loadImageFolder(dir, { ...noCache, trainLimit: 0 })).toThrow(/trainLimit/);
  });

  it('labels follow an explicit class list, which must match the folders', () => {
    const data = loadImageFolder(dir, { ...noCache, classNames: ['dogs', 'cats'] });
    expect(data.classNames).toEqual(['dogs', 'cats']);
    // Round-robin now starts with dogs (label 0): dogs/0.png has R = 100.
    expect([...data.train.labels]).toEqual([0, 1, 0, 1, 0, 1]);
    expect(data.train.images[0]).toBe(100);
    expect(() => loadImageFolder(dir, { ...noCache, classNames: ['cats', 'birds'] })).toThrow(
      /missing class folder\(s\) birds; unexpected folder\(s\) dogs/,
    );
    expect(() => loadImageFolder(dir, { ...noCache, classNames: ['cats', 'cats'] })).toThrow(
      /distinct/,
    );
  });

  it('checks an expected imageSize and names the mis-sized files', () => {
    expect(loadImageFolder(dir, { ...noCache, imageSize: [3, 4] }).imageShape).toEqual([3, 4, 3]);
    expect(() => loadImageFolder(dir, { ...noCache, imageSize: [4, 3] })).toThrow(
      /8 bad image file\(s\): .*cats\/0\.png: is 4x3, expected 3x4 \(imageSize\)/,
    );
    expect(() => loadImageFolder(dir, { ...noCache, imageSize: [0, 4] })).toThrow(/imageSize/);
  });

  it('holds out a seeded, per-class validation split when there is no test folder', () => {
    const files: Record<string, Buffer> = {};
    for (const [label, name] of ['a', 'b', 'c'].entries()) {
      for (let i = 0; i < 10; i++) files[`${name}/${i}.png`] = png(label * 20 + i);
    }
    const flat = tree('flat', files);
    const split = (seed?: number, validationSplit?: number) =>
      loadImageFolder(flat, {
        ...noCache,
        ...(seed !== undefined && { seed }),
        ...(validationSplit !== undefined && { validationSplit }),
      });
    const ids = (s: ImageSplit) =>
      Array.from({ length: s.count }, (_, n) => s.images[n * img] as number);
    const a = split();
    expect(a.classNames).toEqual(['a', 'b', 'c']);
    expect(a.train.count).toBe(24); // 8 per class: the default holds out 20%
    expect(a.test.count).toBe(6);
    expect([...a.test.labels].sort()).toEqual([0, 0, 1, 1, 2, 2]);
    const all = [...ids(a.train), ...ids(a.test)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 30 }, (_, k) => Math.floor(k / 10) * 20 + (k % 10)));
    for (let n = 0; n < a.train.count; n++) {
      expect(Math.floor(ids(a.train)[n]! / 20)).toBe(a.train.labels[n]);
    }
    expect(ids(split(0).test)).toEqual(ids(a.test));
    const seeds = [1, 2, 3].map((s) => ids(split(s).test).join());
    expect(new Set([ids(a.test).join(), ...seeds]).size).toBeGreaterThan(1);
    expect(split(0, 0.5).test.count).toBe(15);
    expect(() => split(0, 1)).toThrow(/validationSplit must be a fraction in \(0, 1\), got 1/);
    // train/<class>/ without test/ splits train/ the same way.
    const trainOnly = tree(
      'train-only',
      Object.fromEntries(Object.entries(files).map(([k, v]) => [`train/${k}`, v])),
    );
    expect(ids(loadImageFolder(trainOnly, noCache).test)).toEqual(ids(a.test));
    expect(() => loadImageFolder(dir, { ...noCache, validationSplit: 0.1 })).toThrow(
      /has a test\/ folder/,
    );
  });
});

describe('loadImageFolder: bad input', () => {
  it('lists every undecodable or mis-sized image by path in one UserInputError', () => {
    const bad = tree('bad', {
      'train/a/0.png': png(1),
      'train/a/1.png': png(2, 8, 8),
      'train/b/0.jpg': 'not a jpeg',
      'train/b/1.png': png(3),
      'test/a/0.png': Buffer.from(png(4)).subarray(0, 30),
      'test/b/0.png': png(5),
    });
    let error: unknown;
    try {
      loadImageFolder(bad, noCache);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserInputError);
    const message = (error as Error).message;
    expect(message).toMatch(/^3 bad image file\(s\)/);
    expect(message).toContain(
      `${join(bad, 'train', 'a', '1.png')}: is 8x8, expected 4x3 (the first image, ${join(bad, 'train', 'a', '0.png')})`,
    );
    expect(message).toContain(`${join(bad, 'train', 'b', '0.jpg')}: cannot decode`);
    expect(message).toContain(`${join(bad, 'test', 'a', '0.png')}: cannot decode`);
  });

  it('says "and N more" past ten bad files', () => {
    const files: Record<string, Buffer | string> = { 'b/0.png': png(0), 'b/1.png': png(1) };
    for (let i = 0; i < 14; i++) files[`a/${String(i).padStart(2, '0')}.jpg`] = 'junk';
    expect(() => loadImageFolder(tree('many-bad', files), noCache)).toThrow(
      /^14 bad image file\(s\): .*; and 4 more\. Fix or remove them/,
    );
  });

  it('rejects an empty class folder, too few classes and missing folders', () => {
    const empty = tree('empty-class', {
      'train/a/0.png': png(1),
      'train/b/readme.txt': 'no images here',
      'test/a/0.png': png(2),
      'test/b/0.png': png(3),
    });
    expect(() => loadImageFolder(empty, noCache)).toThrow(
      new RegExp(`class folder ${join(empty, 'train', 'b')} holds no \\.jpg, \\.jpeg or \\.png`),
    );
    const one = tree('one-class', { 'a/0.png': png(1), 'a/1.png': png(2) });
    expect(() => loadImageFolder(one, noCache)).toThrow(/need at least 2 class folders, found 1/);
    const testMissing = tree('test-missing-class', {
      'train/a/0.png': png(1),
      'train/b/0.png': png(2),
      'test/a/0.png': png(3),
    });
    expect(() => loadImageFolder(testMissing, noCache)).toThrow(
      /test: missing class folder\(s\) b/,
    );
    expect(() => loadImageFolder(join(tmp, 'none'), noCache)).toThrow(/image folder not found/);
  });
});

describe('CIFAR-10 JPEG copy (../shared/datasets/cifar10-jpeg, development machines only)', () => {
  const dir = defaultCifar10JpegDir();

  it('is looked for next to the repository, not at a fixed absolute path', () => {
    const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    expect(DEFAULT_CIFAR10_JPEG_DIR).toBe(
      resolve(repo, '..', 'shared', 'datasets', 'cifar10-jpeg'),
    );
    expect(dir === undefined || dir === DEFAULT_CIFAR10_JPEG_DIR).toBe(true);
  });

  it.skipIf(dir === undefined)(
    'loads all 60,000 images, 5,000 / 1,000 per class, 32x32x3 bytes, official label order; the second load comes from the cache, identical and faster',
    () => {
      const infos: ImageFolderLoadInfo[] = [];
      // A cache folder of the test's own (tests write nothing outside their temp folder).
      const cacheDir = join(tmp, 'cifar-cache');
      const first = loadCifar10Jpeg(undefined, { cacheDir, onLoad: (i) => infos.push(i) });
      expect(first.imageShape).toEqual([32, 32, 3]);
      expect(first.classNames).toEqual(CIFAR10_CLASS_NAMES);
      expect(first.classNames[0]).toBe('airplane');
      expect(first.classNames[9]).toBe('truck');
      expect(first.train.count).toBe(50_000);
      expect(first.test.count).toBe(10_000);
      expect(first.train.images.length).toBe(50_000 * 32 * 32 * 3);
      for (const [split, perClass] of [
        [first.train, 5000],
        [first.test, 1000],
      ] as const) {
        const counts = new Array<number>(10).fill(0);
        for (const l of split.labels) counts[l]! += 1;
        expect(counts).toEqual(new Array<number>(10).fill(perClass));
      }
      expect([...first.train.labels.subarray(0, 12)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      let lo = Infinity;
      let hi = -Infinity;
      let sum = 0;
      const xs = first.train.images;
      for (let i = 0; i < xs.length; i++) {
        const v = xs[i] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
      }
      expect(xs).toBeInstanceOf(Uint8Array);
      expect(lo).toBe(0);
      expect(hi).toBe(255);
      // CIFAR-10's pixel mean is about 0.47 (bytes: about 120).
      expect(sum / xs.length / 255).toBeGreaterThan(0.44);
      expect(sum / xs.length / 255).toBeLessThan(0.5);

      const second = loadCifar10Jpeg(undefined, { cacheDir, onLoad: (i) => infos.push(i) });
      const [a, b] = infos as [ImageFolderLoadInfo, ImageFolderLoadInfo];
      console.log(
        `CIFAR-10 JPEG: first load ${a.seconds.toFixed(2)} s (${a.source}), second ${b.seconds.toFixed(2)} s (${b.source}), cache ${b.cacheFile}`,
      );
      if (a.cacheWriteError === undefined) {
        expect(b.source).toBe('cache');
        if (a.source === 'decoded') expect(b.seconds).toBeLessThan(a.seconds / 2);
      }
      const bytes = (x: ImageSplit['images']) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      expect(bytes(second.train.images).equals(bytes(first.train.images))).toBe(true);
      expect(bytes(second.test.images).equals(bytes(first.test.images))).toBe(true);
      expect([...second.train.labels]).toEqual([...first.train.labels]);
    },
    240_000,
  );

  it('reads a class-balanced subset without the shared folder being required', () => {
    const files: Record<string, Buffer> = {};
    CIFAR10_CLASS_NAMES.forEach((name, label) => {
      files[`train/${name}/0.png`] = png(label, 32, 32);
      files[`test/${name}/0.png`] = png(label, 32, 32);
    });
    files['train/cat/1.png'] = png(200, 31, 32);
    const root = tree('cifar-like', files);
    expect(() => loadCifar10Jpeg(root, { cacheDir: false })).toThrow(
      /cat\/1\.png: is 31x32, expected 32x32 \(imageSize\)/,
    );
    rmSync(join(root, 'train', 'cat', '1.png'));
    const data = loadCifar10Jpeg(root, { cacheDir: false });
    expect(data.name).toBe('cifar10-jpeg');
    expect([...data.train.labels]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(readdirSync(root).sort()).toEqual(['test', 'train']);
  });
});
