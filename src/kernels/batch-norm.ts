/**
 * Batch normalisation in training mode as one op with a closed-form gradient, for backends that
 * have its two kernels (the wasm backend with the native addon: native/batch_norm.cc). TF.js
 * builds the same thing from moments + batchNorm, a dozen elementwise ops and reductions forward
 * and backward, which dominated a batch-norm CNN's step once the convolutions were fast.
 */
import * as tf from '@tensorflow/tfjs';

export const BATCH_NORM_TRAIN = 'WeightPredictionBatchNormTrain';
export const BATCH_NORM_GRAD = 'WeightPredictionBatchNormGrad';

/** True when the active backend has the fused batch-norm kernels. */
export function hasFusedBatchNorm(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(BATCH_NORM_TRAIN, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_GRAD, backend) !== undefined
  );
}

export interface BatchNormTrainingResult {
  /** (x − mean)·γ/√(variance + ε) + β, differentiable in x, γ and β through the batch statistics. */
  y: tf.Tensor;
  /** The batch mean and biased variance per channel (as `tf.moments`), outside any gradient. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Normalises `x` over every axis but the last with its own batch statistics, as tfjs-layers'
 * BatchNormalization does in training. Null when the backend lacks the fused kernels (the caller
 * then uses the stock ops). `mean` and `variance` are the caller's to dispose.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormTrainingResult | null {
  if (!hasFusedBatchNorm() || x.dtype !== 'float32' || x.rank < 2) return null;
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const op = tf.customGrad((xIn, gammaIn, betaIn, save) => {
    const [y, mean, variance] = tf
      .engine()
      .runKernel(
        BATCH_NORM_TRAIN,
        { x: xIn as tf.Tensor, gamma: gammaIn as tf.Tensor, beta: betaIn as tf.Tensor },
        { epsilon },
      ) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    (save as tf.GradSaveFunc)([xIn as tf.Tensor, gammaIn as tf.Tensor, mean, variance]);
    stats = [tf.keep(mean.clone()), tf.keep(variance.clone())];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sGamma, sMean, sVariance] = saved as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
        ];
        return tf
          .engine()
          .runKernel(
            BATCH_NORM_GRAD,
            { dy, x: sx, mean: sMean, variance: sVariance, gamma: sGamma },
            { epsilon },
          ) as tf.Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta);
  if (stats === undefined)
    throw new Error('internal: the batch-norm kernel returned no statistics');
  return { y, mean: stats[0], variance: stats[1] };
}
