import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { dense } from './dense.js';
import { SeededDropout } from './dropout.js';
import { deriveSeed } from './seeds.js';
import { checkPositiveInt, checkRate, checkSeed, checkShape } from './validate.js';

export const MLP_ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'elu', 'selu', 'swish'] as const;
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];

export interface MlpOptions {
  /** Shape of one example without the batch dimension, e.g. `[28, 28, 1]`; flattened first. */
  inputShape: number[];
  /** Widths of the hidden dense layers (default `[256, 256]`). */
  hiddenUnits?: number[];
  numClasses: number;
  activation?: MlpActivation;
  /** SeededDropout rate after each hidden activation (default 0: none). */
  dropout?: number;
  seed: number;
}

/**
 * A multilayer perceptron: flatten → (dense → activation [→ SeededDropout]) per hidden width →
 * dense to `numClasses` logits (no softmax: train with softmax cross-entropy from logits).
 *
 * Layer names: `input`, `flatten` (only for inputs of rank > 1), `dense1` … `denseK`, `dropout1` … (if any), `logits`. Kernels are
 * Glorot-uniform, seeded per layer from `seed`; biases start at zero.
 *
 * Size: Σ (fanIn + 1)·units over the dense layers. The default on MNIST (784 → 256 → 256 → 10) has
 * 784·256+256 + 256·256+256 + 256·10+10 = 269,322 parameters.
 */
export function buildMlp(options: MlpOptions): tf.LayersModel {
  const { inputShape, numClasses, seed } = options;
  const hiddenUnits = options.hiddenUnits ?? [256, 256];
  const activation = options.activation ?? 'relu';
  const dropout = options.dropout ?? 0;
  checkShape(inputShape, 'inputShape');
  checkPositiveInt(numClasses, 'numClasses');
  checkSeed(seed);
  checkRate(dropout, 'dropout');
  if (!Array.isArray(hiddenUnits)) {
    throw new UserInputError(`hiddenUnits must be a list of positive integers, got ${hiddenUnits}`);
  }
  hiddenUnits.forEach((u, i) => checkPositiveInt(u, `hiddenUnits[${i}]`));
  if (!(MLP_ACTIVATIONS as readonly string[]).includes(activation)) {
    throw new UserInputError(
      `activation must be one of ${MLP_ACTIVATIONS.join(', ')}, got '${activation}'`,
    );
  }

  const input = tf.input({ shape: inputShape, name: 'input' });
  // tfjs's Flatten rejects rank-2 batches, and a vector input needs no flattening anyway.
  let x =
    inputShape.length > 1
      ? (tf.layers.flatten({ name: 'flatten' }).apply(input) as tf.SymbolicTensor)
      : input;
  hiddenUnits.forEach((units, i) => {
    x = dense({
      units,
      activation,
      name: `dense${i + 1}`,
      kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, i) }),
    }).apply(x) as tf.SymbolicTensor;
    if (dropout > 0) {
      x = new SeededDropout({ rate: dropout, name: `dropout${i + 1}` }).apply(
        x,
      ) as tf.SymbolicTensor;
    }
  });
  const logits = dense({
    units: numClasses,
    name: 'logits',
    kernelInitializer: tf.initializers.glorotUniform({
      seed: deriveSeed(seed, hiddenUnits.length),
    }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'mlp' });
}
