import * as tf from '@tensorflow/tfjs';
import { conv2d } from './conv.js';
import { dense } from './dense.js';
import { batchNormalization } from './batch-norm.js';
import { UserInputError } from '../errors.js';
import { addLayer, globalAveragePooling2d, ZeroPadShortcut } from './layers.js';
import { deriveSeed } from './seeds.js';
import { checkPositiveInt, checkSeed, checkShape } from './validate.js';

export interface ResNetOptions {
  /** `[height, width, channels]` of one image (NHWC), e.g. `[32, 32, 3]`. */
  inputShape: [number, number, number];
  numClasses: number;
  /** 6n + 2 weighted layers: 20, 32, 44, 56, 110, … (default 20). */
  depth?: number;
  /** Width of the first stage; the stages are w, 2w, 4w (default 16). */
  width?: number;
  /**
   * Shortcut where the shape changes (first block of stages 2 and 3): `'zero-pad'` is He et al.'s
   * option A (parameter-free subsample + zero channels, what the paper uses on CIFAR);
   * `'projection'` is option B (1×1 convolution with stride 2, then BatchNorm). Default
   * `'zero-pad'`.
   */
  shortcut?: 'zero-pad' | 'projection';
  seed: number;
}

/**
 * The CIFAR ResNet of He et al. (2016, §4.2): a 3×3 conv (w filters) → BN → ReLU, then three
 * stages of n basic blocks at widths w, 2w, 4w (stride 2 at the first block of stages 2 and 3),
 * global average pooling, and a dense layer to logits: 6n + 2 weighted layers.
 * A basic block is conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.
 *
 * Layer names: `stem.conv`, `stem.bn`, `stem.relu`, `stageS.blockB.{conv1,bn1,relu1,conv2,bn2,
 * shortcut,add,relu2}` (projection shortcuts: `stageS.blockB.shortcut.conv`/`.bn`), `pool`,
 * `logits`. Convolutions have no bias (BatchNorm follows) and are He-normal; the dense layer is
 * Glorot-uniform; all seeded from `seed`. BatchNorm uses PyTorch's defaults (tfjs momentum 0.9,
 * ε = 1e-5).
 *
 * Size (10 classes, zero-pad shortcuts): ResNet-20 with width 16 has 269,722 trainable parameters
 * (0.27M, as in the paper) plus 1,376 BatchNorm moving statistics; ResNet-56 has 853,018.
 */
export function buildResNet(options: ResNetOptions): tf.LayersModel {
  const { inputShape, numClasses, seed } = options;
  const depth = options.depth ?? 20;
  const width = options.width ?? 16;
  const shortcut = options.shortcut ?? 'zero-pad';
  checkShape(inputShape, 'inputShape');
  if (inputShape.length !== 3) {
    throw new UserInputError(
      `inputShape must be [height, width, channels], got ${JSON.stringify(inputShape)}`,
    );
  }
  checkPositiveInt(numClasses, 'numClasses');
  checkPositiveInt(width, 'width');
  checkSeed(seed);
  if (!Number.isSafeInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new UserInputError(
      `ResNet depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, …), got ${depth}`,
    );
  }
  if (shortcut !== 'zero-pad' && shortcut !== 'projection') {
    throw new UserInputError(`shortcut must be 'zero-pad' or 'projection', got '${shortcut}'`);
  }
  const n = (depth - 2) / 6;

  let stream = 0;
  const conv = (
    x: tf.SymbolicTensor,
    filters: number,
    kernelSize: number,
    strides: number,
    name: string,
  ) =>
    conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      name,
      kernelInitializer: tf.initializers.heNormal({ seed: deriveSeed(seed, stream++) }),
    }).apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) =>
    batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor, name: string) =>
    tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = relu(bn(conv(input, width, 3, 1, 'stem.conv'), 'stem.bn'), 'stem.relu');
  let channels = width;
  for (let s = 0; s < 3; s++) {
    const filters = width * 2 ** s;
    for (let b = 0; b < n; b++) {
      const p = `stage${s + 1}.block${b + 1}`;
      const strides = s > 0 && b === 0 ? 2 : 1;
      let y = relu(bn(conv(x, filters, 3, strides, `${p}.conv1`), `${p}.bn1`), `${p}.relu1`);
      y = bn(conv(y, filters, 3, 1, `${p}.conv2`), `${p}.bn2`);
      let skip = x;
      if (strides !== 1 || filters !== channels) {
        skip =
          shortcut === 'projection'
            ? bn(conv(x, filters, 1, strides, `${p}.shortcut.conv`), `${p}.shortcut.bn`)
            : (new ZeroPadShortcut({ strides, filters, name: `${p}.shortcut` }).apply(
                x,
              ) as tf.SymbolicTensor);
      }
      x = relu(addLayer({ name: `${p}.add` }).apply([y, skip]) as tf.SymbolicTensor, `${p}.relu2`);
      channels = filters;
    }
  }
  x = globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const logits = dense({
    units: numClasses,
    name: 'logits',
    kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, stream++) }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: `resnet${depth}` });
}
