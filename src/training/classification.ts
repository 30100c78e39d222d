import * as tf from '@tensorflow/tfjs';
import { sparseSoftmaxCrossEntropy } from '../kernels/cross-entropy.js';
import {
  classificationBatches,
  type ChannelStats,
  type ClassificationEpoch,
} from '../data/batching.js';
import type { Rng } from '../data/rng.js';
import type { ImageClassificationDataset, ImageSplit } from '../data/types.js';
import { UserInputError } from '../errors.js';
import {
  checkTrainOptions,
  train,
  type TaskAdapter,
  type TrainOptions,
  type TrainResult,
} from './loop.js';

/**
 * Augments one batch in place: `images` holds `count` NHWC images of `imageShape` (floats, already
 * normalised when `normalize` is given). It must draw its
 * randomness from `rng` only, so runs repeat and a resumed run augments exactly as before.
 */
export type Augmentation = (
  images: Float32Array,
  count: number,
  imageShape: readonly [number, number, number],
  rng: Rng,
) => void;

export interface ClassifierTrainOptions extends TrainOptions {
  /** Maps `[batch, ...imageShape]` images to `[batch, numClasses]` logits (no softmax). */
  model: tf.LayersModel;
  data: ImageClassificationDataset;
  /**
   * Standardise every batch, train and test, per channel: `(x − mean[c]) / std[c]`, applied while
   * each batch is copied (so byte images stay bytes). Typically `channelStats(data.train, c)`.
   * The stats follow from the data, so they are not hashed into checkpoints themselves: record
   * what they depend on in `config` (the CLI's run config holds `data.normalize` and the limits),
   * and a run normalised up front before this option existed resumes unchanged.
   */
  normalize?: ChannelStats;
  /** Batch size for the evaluation on the test split (default 1000). */
  evalBatchSize?: number;
  /** Drop the last incomplete batch of every epoch (default false: train on every sample). */
  dropLast?: boolean;
  augment?: Augmentation;
  /** Recorded in the summary and hashed into checkpoints (default: the augmentation's function name). */
  augmentName?: string;
}

function checkSplit(split: ImageSplit | undefined, what: string, pixels: number, classes: number) {
  if (
    !split ||
    !(split.images instanceof Float32Array || split.images instanceof Uint8Array) ||
    !(split.labels instanceof Int32Array)
  ) {
    throw new UserInputError(
      `data.${what} must have Float32Array or Uint8Array images and Int32Array labels`,
    );
  }
  if (
    split.count < 1 ||
    split.images.length !== split.count * pixels ||
    split.labels.length !== split.count
  ) {
    throw new UserInputError(
      `data.${what} is inconsistent: count ${split.count}, ${split.images.length} pixel values (expected ${split.count * pixels}), ${split.labels.length} labels`,
    );
  }
  for (const l of split.labels) {
    if (l < 0 || l >= classes) {
      throw new UserInputError(`data.${what} has label ${l}, outside [0, ${classes})`);
    }
  }
}

/** Softmax cross-entropy from logits, mean over the batch. */
export function classificationLoss(
  logits: tf.Tensor,
  labels: tf.Tensor,
  numClasses: number,
): tf.Scalar {
  return tf.tidy(() => {
    // One fused op where the backend has it (wasm with the native addon), else the stock ops.
    const fused = sparseSoftmaxCrossEntropy(logits as tf.Tensor2D, labels as tf.Tensor1D);
    if (fused) return fused;
    const oneHot = tf.oneHot(labels as tf.Tensor1D, numClasses).toFloat();
    return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
  });
}

/**
 * Trains an image classifier with softmax cross-entropy from logits; after each epoch it reports
 * the test loss and accuracy measured with the true weights. See `TrainOptions` for the rest.
 */
export async function trainClassifier(options: ClassifierTrainOptions): Promise<TrainResult> {
  const { model, data } = options;
  if (!(model instanceof tf.LayersModel)) {
    throw new UserInputError('Invalid model: pass a tf.LayersModel that outputs logits');
  }
  if (!data || !Array.isArray(data.imageShape) || data.imageShape.length !== 3) {
    throw new UserInputError(
      'Invalid data: pass an ImageClassificationDataset (e.g. from loadMnist())',
    );
  }
  const pixels = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
  checkSplit(data.train, 'train', pixels, data.numClasses);
  checkSplit(data.test, 'test', pixels, data.numClasses);
  checkTrainOptions(
    options,
    data.train.count,
    `larger than the ${data.train.count} training samples`,
  );
  const evalBatchSize = options.evalBatchSize ?? 1000;
  if (!Number.isInteger(evalBatchSize) || evalBatchSize < 1) {
    throw new UserInputError(`Invalid evalBatchSize ${evalBatchSize}: expected an integer >= 1`);
  }
  const outShape = model.outputs[0]?.shape;
  if (model.outputs.length !== 1 || outShape?.[outShape.length - 1] !== data.numClasses) {
    throw new UserInputError(
      `The model's output shape [${outShape}] does not end in the dataset's ${data.numClasses} classes: build it with numClasses ${data.numClasses}`,
    );
  }

  const { batchSize } = options;
  const dropLast = options.dropLast ?? false;
  const n = data.train.count;
  const batchesPerEpoch = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  const shape = data.imageShape;
  if (options.normalize !== undefined && options.normalize.mean?.length !== shape[2]) {
    throw new UserInputError(
      `normalize has ${options.normalize.mean?.length} channel means; the images have ${shape[2]} channels`,
    );
  }
  const normalize = options.normalize && { normalize: options.normalize };
  // Built now so that bad stats fail before training; evaluation batches are the same every time.
  const testBatches = classificationBatches(data.test, evalBatchSize, {
    shuffle: false,
    ...normalize,
  });
  if (data.valid !== undefined) checkSplit(data.valid, 'valid', pixels, data.numClasses);
  const validBatches =
    data.valid &&
    classificationBatches(data.valid, evalBatchSize, { shuffle: false, ...normalize });
  let epoch: ClassificationEpoch | undefined;

  /** Mean loss and accuracy over one held-out split's batches, with the current weights. */
  const evaluateSplit = async (batches: typeof testBatches, count: number) => {
    let lossSum = 0;
    let correct = 0;
    for (const batch of batches) {
      const [l, c] = tf.tidy(() => {
        const x = tf.tensor4d(batch.x, [batch.size, ...shape]);
        const y = tf.tensor1d(batch.y, 'int32');
        const logits = model.apply(x, { training: false }) as tf.Tensor;
        const oneHot = tf.oneHot(y, data.numClasses).toFloat();
        const losses = tf.losses.softmaxCrossEntropy(
          oneHot,
          logits,
          undefined,
          undefined,
          tf.Reduction.NONE,
        );
        return [losses.sum(), logits.argMax(-1).toInt().equal(y).sum()];
      });
      lossSum += (await l!.data())[0]!;
      correct += (await c!.data())[0]!;
      tf.dispose([l!, c!]);
    }
    return { loss: lossSum / count, metric: correct / count };
  };

  const adapter: TaskAdapter = {
    task: data.name,
    metric: 'accuracy',
    evaluatedOn: 'test',
    higherIsBetter: true,
    unit: 'samples',
    model,
    batchesPerEpoch,
    config: {
      dataset: data.name,
      trainCount: n,
      testCount: data.test.count,
      ...(data.valid && { validCount: data.valid.count }),
      dropLast,
      evalBatchSize,
      augment: options.augment ? (options.augmentName ?? (options.augment.name || 'custom')) : null,
    },
    beginEpoch(_epoch, rng) {
      // The shuffle makes the same draws as rng.permutation(n); augmentation then draws from the
      // same rng batch by batch (below), not from classificationBatches' keyed streams.
      epoch = classificationBatches(data.train, batchSize, { rng, dropLast, ...normalize });
    },
    batch(index, rng) {
      const { x: images, y: labels, size } = (epoch as ClassificationEpoch).batch(index);
      if (options.augment) options.augment(images, size, shape, rng);
      const x = tf.tensor4d(images, [size, ...shape]);
      const y = tf.tensor1d(labels, 'int32');
      return {
        loss: () =>
          classificationLoss(model.apply(x, { training: true }) as tf.Tensor, y, data.numClasses),
        size,
        finish: () => tf.dispose([x, y]),
      };
    },
    carried: () => [],
    setCarried: (tensors) => tf.dispose(tensors),
    evaluate: () => evaluateSplit(testBatches, data.test.count),
    ...(validBatches && {
      evaluateValidation: () => evaluateSplit(validBatches, data.valid!.count),
    }),
    dispose() {},
  };
  return train(adapter, options);
}
