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
 * `tf.layers.batchNormalization`, whose training step over the last axis (moving averages
 * included) runs as one fused op where the backend has it (wasm with the native addon; see
 * kernels/batch-norm.ts) and as the stock ops elsewhere. Same weights, config, class name and moving-average update, so saved
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
      const fused = batchNormTraining(
        x,
        own.gamma.read() as tf.Tensor1D,
        own.beta.read() as tf.Tensor1D,
        own.movingMean.read() as tf.Tensor1D,
        own.movingVariance.read() as tf.Tensor1D,
        { epsilon: own.epsilon, momentum: own.momentum },
      );
      if (fused === null) return stockCall(inputs, kwargs);
      // The stock layer's moving averages, advanced by the kernel as the stock layer does it.
      own.movingMean.write(fused.movingMean);
      own.movingVariance.write(fused.movingVariance);
      return fused.y;
    });
  };
  return layer;
}
