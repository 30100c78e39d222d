/**
 * a · bᵀ over the last two axes, as one product with `transposeB` where the backend's
 * `BatchMatMul` takes the flag at full speed: the wasm kernels of this package (wasm.ts
 * transposes inside the kernel before XNNPACK; with the addon, wasm-native.ts hands the flag to
 * sgemm, with no copy at all). Elsewhere b is transposed explicitly first, as before: stock wasm
 * runs a transposed operand through a slow scalar loop (PERF-NOTES), and the other backends keep
 * the ops they always ran.
 */
import * as tf from '@tensorflow/tfjs';

/** The BatchMatMul kernel functions that take the transpose flags at full speed. */
const transposingMatMuls = new WeakSet<object>();

/** Records `kernelFunc` (a BatchMatMul registered on wasm) as taking the flags at full speed. */
export function markTransposingMatMul(kernelFunc: object): void {
  transposingMatMuls.add(kernelFunc);
}

export function matMulTransposedB(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const kernel = tf.getKernel('BatchMatMul', tf.getBackend());
  if (kernel !== undefined && transposingMatMuls.has(kernel.kernelFunc)) {
    return tf.matMul(a, b, false, true);
  }
  const rank = b.rank;
  const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
  return tf.matMul(a, tf.transpose(b, perm));
}
