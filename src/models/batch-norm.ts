import * as tf from '@tensorflow/tfjs';
import { batchNormTraining } from '../kernels/batch-norm.js';

/** The parts of tfjs-layers' BatchNormalization that its training step uses (private there). */
interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): tf.Tensor };
  beta: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(value: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(value: tf.Tensor): void };
}

/**
 * `tf.layers.batchNormalization`, whose training step over the last axis runs as one fused op
 * where the backend has it (wasm with the native addon; see kernels/batch-norm.ts) and as the
 * stock ops elsewhere. Same weights, config, class name and moving-average update, so saved
 * models load as the stock layer.
 */
export function batchNormalization(
  args: Parameters<typeof tf.layers.batchNormalization>[0],
): tf.layers.Layer {
  const layer = tf.layers.batchNormalization(args);
  const stockCall = layer.call.bind(layer);
  const own = layer as unknown as BatchNormInternals;
  layer.call = (inputs, kwargs) => {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const lastAxis = own.axis === -1 || own.axis === x.rank - 1;
    if (kwargs['training'] !== true || !lastAxis || !own.center || !own.scale) {
      return stockCall(inputs, kwargs);
    }
    return tf.tidy(() => {
      const gamma = own.gamma.read() as tf.Tensor1D;
      const beta = own.beta.read() as tf.Tensor1D;
      const fused = batchNormTraining(x, gamma, beta, own.epsilon);
      if (fused === null) return stockCall(inputs, kwargs);
      const { y, mean, variance } = fused;
      // The stock layer's moving averages: moving −= (moving − batch)·(1 − momentum).
      for (const [variable, value] of [
        [own.movingMean, mean],
        [own.movingVariance, variance],
      ] as const) {
        const current = variable.read();
        variable.write(tf.sub(current, tf.mul(tf.sub(current, value), 1 - own.momentum)));
      }
      tf.dispose([mean, variance]);
      return y;
    });
  };
  return layer;
}
