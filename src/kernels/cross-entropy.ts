/**
 * Softmax cross-entropy against integer labels as one op with its own gradient, for backends that
 * have its two kernels (wasm with the native addon: native/cross_entropy.cc). The stock path builds
 * a one-hot matrix and runs logSoftmax, a product and reductions forward and backward: for a
 * language model's [tokens, vocabulary] logits that is several passes over the largest tensor of
 * the step.
 */
import * as tf from '@tensorflow/tfjs';

export const SPARSE_XENT = 'WeightPredictionSparseSoftmaxCrossEntropy';
export const SPARSE_XENT_GRAD = 'WeightPredictionSparseSoftmaxCrossEntropyGrad';

function hasKernels(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(SPARSE_XENT, backend) !== undefined &&
    tf.getKernel(SPARSE_XENT_GRAD, backend) !== undefined
  );
}

/**
 * Mean over rows of −log softmax(logits)[label] for float32 logits [rows, classes] and int32
 * labels [rows]: what `tf.losses.softmaxCrossEntropy(oneHot(labels), logits)` gives (a label
 * outside [0, classes) gives NaN there too). Null when the backend lacks the fused kernels.
 */
export function sparseSoftmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Scalar | null {
  if (!hasKernels() || logits.dtype !== 'float32' || labels.dtype !== 'int32') return null;
  const op = tf.customGrad((z, y, save) => {
    const [loss, lse] = tf
      .engine()
      .runKernel(SPARSE_XENT, { logits: z as tf.Tensor, labels: y as tf.Tensor }, {}) as [
      tf.Scalar,
      tf.Tensor1D,
    ];
    (save as tf.GradSaveFunc)([z as tf.Tensor, y as tf.Tensor, lse]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sz, sy, sLse] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const grad = tf
          .engine()
          .runKernel(SPARSE_XENT_GRAD, { dy, logits: sz, labels: sy, lse: sLse }, {}) as tf.Tensor;
        return [grad, tf.zerosLike(sy)];
      },
    };
  });
  return op(logits, labels);
}
