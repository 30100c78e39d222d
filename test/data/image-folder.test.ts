import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { loadCifar10Jpeg, loadImageFolder } from '../../src/data/image-folder.js';

const tmp = mkdtempSync(join(tmpdir(), 'image-folder-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A 4×3 PNG whose pixel (x, y) is RGB (value, x * 50, y * 80), alpha 255. */
function png(value: number): Buffer {
  const image = new PNG({ width: 4, height: 3 });
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      const i = (y * 4 + x) * 4;
      image.data[i] = value;
      image.data[i + 1] = x * 50;
      image.data[i + 2] = y * 80;
      image.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(image);
}

describe('loadImageFolder', () => {
  const dir = join(tmp, 'tiny');
  for (const [split, perClass] of [
    ['train', 3],
    ['test', 1],
  ] as const) {
    for (const [label, name] of ['cats', 'dogs'].entries()) {
      mkdirSync(join(dir, split, name), { recursive: true });
      for (let i = 0; i < perClass; i++) {
        writeFileSync(join(dir, split, name, `${i}.png`), png(100 * label + i));
      }
    }
  }

  it('decodes class folders into NHWC RGB [0, 1], class-balanced order', () => {
    const data = loadImageFolder(dir);
    expect(data.classNames).toEqual(['cats', 'dogs']);
    expect(data.imageShape).toEqual([3, 4, 3]);
    expect(data.train.count).toBe(6);
    expect([...data.train.labels]).toEqual([0, 1, 0, 1, 0, 1]);
    const img = 3 * 4 * 3;
    // Example 3 is dogs/1.png: R = 101; pixel (x=2, y=1) has G = 100, B = 80.
    expect(data.train.images[3 * img + (1 * 4 + 2) * 3 + 0]).toBeCloseTo(101 / 255, 6);
    expect(data.train.images[3 * img + (1 * 4 + 2) * 3 + 1]).toBeCloseTo(100 / 255, 6);
    expect(data.train.images[3 * img + (1 * 4 + 2) * 3 + 2]).toBeCloseTo(80 / 255, 6);
    expect(loadImageFolder(dir, { trainLimit: 3 }).train.count).toBe(3);
  });

  it('rejects mixed sizes, undecodable files and missing folders', () => {
    const bad = join(tmp, 'bad');
    mkdirSync(join(bad, 'train', 'a'), { recursive: true });
    mkdirSync(join(bad, 'train', 'b'), { recursive: true });
    mkdirSync(join(bad, 'test', 'a'), { recursive: true });
    mkdirSync(join(bad, 'test', 'b'), { recursive: true });
    writeFileSync(join(bad, 'train', 'a', '0.png'), png(1));
    const big = jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(8 * 8 * 4, 128) }, 90);
    writeFileSync(join(bad, 'train', 'b', '0.jpg'), big.data);
    expect(() => loadImageFolder(bad)).toThrow(/0\.jpg is 8x8 but the other images are 4x3/);
    writeFileSync(join(bad, 'train', 'b', '0.jpg'), 'not a jpeg');
    expect(() => loadImageFolder(bad)).toThrow(UserInputError);
    expect(() => loadImageFolder(bad)).toThrow(/cannot decode image .*0\.jpg/);
    expect(() => loadImageFolder(join(tmp, 'none'))).toThrow(/image folder not found/);
  });
});

describe('CIFAR-10 JPEG copy (/work/shared/datasets/cifar10-jpeg)', () => {
  it('loads a class-balanced subset in the official label order', () => {
    const cifar = loadCifar10Jpeg(undefined, { trainLimit: 200, testLimit: 50 });
    expect(cifar.imageShape).toEqual([32, 32, 3]);
    expect(cifar.classNames[0]).toBe('airplane');
    expect(cifar.classNames[9]).toBe('truck');
    expect(cifar.train.count).toBe(200);
    expect(cifar.test.count).toBe(50);
    expect([...cifar.train.labels.subarray(0, 12)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    const xs = cifar.train.images;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i] as number;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      sum += v;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Natural images: the mean is mid-range (CIFAR-10's is about 0.47).
    expect(sum / xs.length).toBeGreaterThan(0.35);
    expect(sum / xs.length).toBeLessThan(0.6);
  });
});
