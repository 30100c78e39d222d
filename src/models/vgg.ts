import * as tf from '@tensorflow/tfjs';
import { dense } from './dense.js';
import { batchNormalization } from './batch-norm.js';
import { UserInputError } from '../errors.js';
import { SeededDropout } from './dropout.js';
import { deriveSeed } from './seeds.js';
import { checkPositiveInt, checkRate, checkSeed, checkShape } from './validate.js';

export interface VggCnnOptions {
  /** `[height, width, channels]` of one image (NHWC). */
  inputShape: [number, number, number];
  numClasses: number;
  /** Conv widths, one block per entry (default `[32, 64, 128]`). */
  widths?: number[];
  /** 3×3 convolutions per block before its 2×2 max-pool (default 2, as in VGG). */
  convsPerBlock?: number;
  /** Width of the hidden dense layer before the logits; 0 for none (default 128). */
  denseUnits?: number;
  /** SeededDropout rate before each dense layer (default 0: none). */
  dropout?: number;
  /** BatchNorm after every convolution (default true; the convolutions then have no bias). */
  batchNorm?: boolean;
  seed: number;
}

/**
 * A small VGG-style CNN (Simonyan & Zisserman 2015, with BatchNorm): per width w, `convsPerBlock`
 * × (conv3×3 'same' → BatchNorm → ReLU), then 2×2 max-pool; then flatten → [dropout →] dense
 * `denseUnits` + ReLU → [dropout →] dense to logits (no softmax).
 *
 * Layer names: `blockB.convK`, `blockB.bnK`, `blockB.reluK`, `blockB.pool`, `flatten`, `dense1`,
 * `logits`, `dropout1`/`dropout2`. Convolutions are He-normal (fan-in), dense layers
 * Glorot-uniform, each seeded from `seed`. BatchNorm uses PyTorch's defaults (momentum 0.1, i.e.
 * tfjs momentum 0.9, and ε = 1e-5).
 *
 * Size with the defaults on CIFAR-10 (32×32×3): convolutions 286,560 + BatchNorm 896 trainable (and
 * 896 moving statistics) + dense 4·4·128·128 + 128 = 262,272 + logits 1,290 = 551,018 trainable
 * parameters.
 */
export function buildVggCnn(options: VggCnnOptions): tf.LayersModel {
  const { inputShape, numClasses, seed } = options;
  const widths = options.widths ?? [32, 64, 128];
  const convsPerBlock = options.convsPerBlock ?? 2;
  const denseUnits = options.denseUnits ?? 128;
  const dropout = options.dropout ?? 0;
  const batchNorm = options.batchNorm ?? true;
  checkShape(inputShape, 'inputShape');
  if (inputShape.length !== 3) {
    throw new UserInputError(
      `inputShape must be [height, width, channels], got ${JSON.stringify(inputShape)}`,
    );
  }
  checkPositiveInt(numClasses, 'numClasses');
  checkSeed(seed);
  checkRate(dropout, 'dropout');
  checkPositiveInt(convsPerBlock, 'convsPerBlock');
  if (!Number.isSafeInteger(denseUnits) || denseUnits < 0) {
    throw new UserInputError(`denseUnits must be a non-negative integer, got ${denseUnits}`);
  }
  if (!Array.isArray(widths) || widths.length === 0) {
    throw new UserInputError(`widths must be a non-empty list, got ${JSON.stringify(widths)}`);
  }
  widths.forEach((w, i) => checkPositiveInt(w, `widths[${i}]`));
  const minSide = 2 ** widths.length;
  if (inputShape[0] < minSide || inputShape[1] < minSide) {
    throw new UserInputError(
      `inputShape ${JSON.stringify(inputShape)} is too small for ${widths.length} 2×2 pools ` +
        `(needs at least ${minSide}×${minSide}); use fewer widths`,
    );
  }

  let stream = 0;
  const nextSeed = () => deriveSeed(seed, stream++);
  const input = tf.input({ shape: inputShape, name: 'input' });
  let x: tf.SymbolicTensor = input;
  widths.forEach((filters, b) => {
    const block = `block${b + 1}`;
    for (let k = 1; k <= convsPerBlock; k++) {
      x = tf.layers
        .conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: !batchNorm,
          name: `${block}.conv${k}`,
          kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
        })
        .apply(x) as tf.SymbolicTensor;
      if (batchNorm) {
        x = batchNormalization({ momentum: 0.9, epsilon: 1e-5, name: `${block}.bn${k}` }).apply(
          x,
        ) as tf.SymbolicTensor;
      }
      x = tf.layers.reLU({ name: `${block}.relu${k}` }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers
      .maxPooling2d({ poolSize: 2, strides: 2, name: `${block}.pool` })
      .apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  let dropouts = 0;
  const maybeDropout = (t: tf.SymbolicTensor) =>
    dropout > 0
      ? (new SeededDropout({ rate: dropout, name: `dropout${++dropouts}` }).apply(
          t,
        ) as tf.SymbolicTensor)
      : t;
  if (denseUnits > 0) {
    x = dense({
      units: denseUnits,
      activation: 'relu',
      name: 'dense1',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    }).apply(maybeDropout(x)) as tf.SymbolicTensor;
  }
  const logits = dense({
    units: numClasses,
    name: 'logits',
    kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
  }).apply(maybeDropout(x)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'vgg' });
}
