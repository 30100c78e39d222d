/**
 * Batch normalisation in training mode as one kernel with a closed-form one-kernel gradient, for
 * backends that have both (the wasm backend with the native addon: native/batch_norm.cc). TF.js
 * builds the same thing from moments + batchNorm, a dozen elementwise ops and reductions forward
 * and backward, which dominated a batch-norm CNN's step once the convolutions were fast. The
 * kernel also advances the layer's moving averages (a few floats per channel), which the stock
 * layer does with six more kernels per layer and step.
 */
import * as tf from '@tensorflow/tfjs';

export const BATCH_NORM_TRAIN = 'WeightPredictionBatchNormTrain';
export const BATCH_NORM_GRAD = 'WeightPredictionBatchNormGrad';

/** The forward kernel's attributes. */
export interface BatchNormTrainAttrs {
  epsilon: number;
  /** The moving averages' momentum, as tfjs-layers' BatchNormalization takes it. */
  momentum: number;
}

/** True when the active backend has the fused batch-norm kernels. */
export function hasFusedBatchNorm(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(BATCH_NORM_TRAIN, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_GRAD, backend) !== undefined
  );
}

/**
 * tfjs-layers' moving-average update, `moving − (moving − batch)·(1 − momentum)`, float32 operation
 * for operation as its sub, mul and sub kernels round it, into `out`.
 */
export function movingAverageInto(
  moving: Float32Array,
  batch: Float32Array,
  momentum: number,
  out: Float32Array,
): void {
  const decay = Math.fround(1 - momentum);
  for (let c = 0; c < out.length; c++) {
    const current = moving[c]!;
    out[c] = Math.fround(current - Math.fround(Math.fround(current - batch[c]!) * decay));
  }
}

let gradientRegistered = false;

/** The forward kernel's gradient: x, γ and β through the batch statistics, in one kernel. */
function registerGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'gamma'],
    // Outputs: y, the batch mean and variance, the new moving mean and variance.
    outputsToSave: [false, true, true, false, false],
    gradFunc: (dys, saved, attrs) => {
      const [x, gamma, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const dy = (dys as (tf.Tensor | null)[])[0];
      const zeros = () => tf.zerosLike(gamma);
      if (dy === null || dy === undefined) {
        return {
          x: () => tf.zerosLike(x),
          gamma: zeros,
          beta: zeros,
          movingMean: zeros,
          movingVariance: zeros,
        };
      }
      const [dx, dGamma, dBeta] = tf
        .engine()
        .runKernel(
          BATCH_NORM_GRAD,
          { dy, x, mean, variance, gamma },
          { epsilon: (attrs as unknown as BatchNormTrainAttrs).epsilon },
        ) as tf.Tensor[];
      // The moving averages do not reach y.
      return {
        x: () => dx!,
        gamma: () => dGamma!,
        beta: () => dBeta!,
        movingMean: zeros,
        movingVariance: zeros,
      };
    },
  });
  gradientRegistered = true;
}

export interface BatchNormTrainingResult {
  /** (x − mean)·γ/√(variance + ε) + β, differentiable in x, γ and β through the batch statistics. */
  y: tf.Tensor;
  /** The moving mean and variance advanced by this batch's mean and biased variance. */
  movingMean: tf.Tensor1D;
  movingVariance: tf.Tensor1D;
}

/**
 * Normalises `x` over every axis but the last with its own batch statistics, as tfjs-layers'
 * BatchNormalization does in training, and advances its moving averages. Null when the backend
 * lacks the fused kernels (the caller then uses the stock ops).
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  movingMean: tf.Tensor1D,
  movingVariance: tf.Tensor1D,
  attrs: BatchNormTrainAttrs,
): BatchNormTrainingResult | null {
  if (!hasFusedBatchNorm() || x.dtype !== 'float32' || x.rank < 2) return null;
  registerGradient();
  const [y, mean, variance, newMean, newVariance] = tf
    .engine()
    .runKernel(
      BATCH_NORM_TRAIN,
      { x, gamma, beta, movingMean, movingVariance },
      attrs as unknown as tf.NamedAttrMap,
    ) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
  tf.dispose([mean, variance]);
  return { y: y, movingMean: newMean, movingVariance: newVariance };
}
