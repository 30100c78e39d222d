/** The MNIST subset file the playground ships (made by playground/mnist-subset.ts at build time). */

/** 'WPM1' little-endian. */
export const MNIST_SUBSET_MAGIC = 0x314d5057;

export interface MnistSplit {
  /** count × 784 pixels, 0–255, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface MnistSubset {
  train: MnistSplit;
  test: MnistSplit;
}

export function parseMnistSubset(buffer: ArrayBuffer): MnistSubset {
  const view = new DataView(buffer);
  if (buffer.byteLength < 12 || view.getUint32(0, true) !== MNIST_SUBSET_MAGIC) {
    throw new Error('the MNIST subset file is damaged or not one (bad header); rebuild the page');
  }
  const train = view.getUint32(4, true);
  const test = view.getUint32(8, true);
  const expected = 12 + train * 785 + test * 785;
  if (buffer.byteLength !== expected) {
    throw new Error(
      `the MNIST subset file has ${buffer.byteLength} bytes, expected ${expected}; rebuild the page`,
    );
  }
  let at = 12;
  const take = (n: number): Uint8Array => {
    const part = new Uint8Array(buffer, at, n);
    at += n;
    return part;
  };
  const trainImages = take(train * 784);
  const trainLabels = take(train);
  const testImages = take(test * 784);
  const testLabels = take(test);
  return {
    train: { images: trainImages, labels: trainLabels, count: train },
    test: { images: testImages, labels: testLabels, count: test },
  };
}
