/**
 * Causal self-attention's softmax as one op with a one-pass gradient, for backends that have its
 * two kernels (wasm: registered by `registerWasmTrainingKernels`). The stock path scales the
 * scores, adds a −1e9 mask above the diagonal and runs softmax: three kernels and a mask tensor
 * forward, and backward softmax's gradient (a product, a sum, a subtraction, a product) plus the
 * scaling's, each a pass over the [batch, heads, t, t] scores.
 *
 * For each row i of each t × t matrix: y[i, j] = exp(c·x[i, j] − max) / Σ_{k ≤ i} exp(c·x[i, k] − max)
 * for j ≤ i and exactly 0 for j > i (what the stock path gives: exp(−1e9) underflows to 0); sums
 * in float64. Gradient: dx[i, j] = c·y[i, j]·(dy[i, j] − Σ_k dy[i, k]·y[i, k]), 0 above the diagonal.
 */
import * as tf from '@tensorflow/tfjs';
import { heapFloats, type BackendWasmLike, type KernelPair, type TensorInfo } from './types.js';

export const CAUSAL_SOFTMAX = 'WeightPredictionCausalSoftmax';
export const CAUSAL_SOFTMAX_GRAD = 'WeightPredictionCausalSoftmaxGrad';

/** y for `matrices` t × t matrices of x, scaled by `scale` before the softmax. */
export function causalSoftmaxRows(
  x: Float32Array,
  y: Float32Array,
  matrices: number,
  t: number,
  scale: number,
): void {
  const c = Math.fround(scale);
  const exps = new Float64Array(t);
  for (let mat = 0; mat < matrices; mat++) {
    for (let i = 0; i < t; i++) {
      const o = (mat * t + i) * t;
      let max = -Infinity;
      // Scaled as the stock path's float32 multiply rounds it.
      for (let j = 0; j <= i; j++) max = Math.max(max, Math.fround(c * x[o + j]!));
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        const e = Math.exp(Math.fround(c * x[o + j]!) - max);
        exps[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j <= i; j++) y[o + j] = exps[j]! * inv;
      for (let j = i + 1; j < t; j++) y[o + j] = 0;
    }
  }
}

/** dx from dy and the forward's y (float64 sums). */
export function causalSoftmaxGradRows(
  dy: Float32Array,
  y: Float32Array,
  dx: Float32Array,
  matrices: number,
  t: number,
  scale: number,
): void {
  const c = Math.fround(scale);
  for (let mat = 0; mat < matrices; mat++) {
    for (let i = 0; i < t; i++) {
      const o = (mat * t + i) * t;
      let dot = 0;
      for (let j = 0; j <= i; j++) dot += dy[o + j]! * y[o + j]!;
      for (let j = 0; j <= i; j++) dx[o + j] = c * y[o + j]! * (dy[o + j]! - dot);
      for (let j = i + 1; j < t; j++) dx[o + j] = 0;
    }
  }
}

function causalMatrices(shape: readonly number[]): { matrices: number; t: number } {
  const t = shape.at(-1)!;
  return { matrices: shape.reduce((p, d) => p * d, 1) / (t * t), t };
}

/** The row loops' signatures: causalSoftmaxRows's and causalSoftmaxGradRows's (and the addon's). */
export type CausalSoftmaxRows = typeof causalSoftmaxRows;
export type CausalSoftmaxGradRows = typeof causalSoftmaxGradRows;

/**
 * The wasm kernels on the tensors' heap memory, running the given row loops: the JS ones above,
 * or the addon's (wasm-native.ts).
 */
export function wasmCausalSoftmaxKernels(
  forward: CausalSoftmaxRows,
  gradient: CausalSoftmaxGradRows,
): KernelPair {
  return {
    forward: (args) => {
      const { x } = args.inputs as Record<string, TensorInfo>;
      const { scale } = args.attrs as { scale: number };
      const backend = args.backend as BackendWasmLike;
      const y = backend.makeOutput(x!.shape, 'float32');
      const { matrices, t } = causalMatrices(x!.shape);
      const heap = (info: TensorInfo) => heapFloats(backend, info);
      forward(heap(x!), heap(y), matrices, t, scale);
      return y;
    },
    gradient: (args) => {
      const { dy, y } = args.inputs as Record<string, TensorInfo>;
      const { scale } = args.attrs as { scale: number };
      const backend = args.backend as BackendWasmLike;
      const dx = backend.makeOutput(y!.shape, 'float32');
      const { matrices, t } = causalMatrices(y!.shape);
      const heap = (info: TensorInfo) => heapFloats(backend, info);
      gradient(heap(dy!), heap(y!), heap(dx), matrices, t, scale);
      return dx;
    },
  };
}

function hasKernels(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(CAUSAL_SOFTMAX, backend) !== undefined &&
    tf.getKernel(CAUSAL_SOFTMAX_GRAD, backend) !== undefined
  );
}

/**
 * softmax(scale·x + causal mask) over the last axis of float32 x [..., t, t], as one op. Null when
 * the backend lacks the kernels (the caller uses the stock ops) or x is not square in its last
 * two axes.
 */
export function causalSoftmax(x: tf.Tensor, scale: number): tf.Tensor | null {
  if (
    !hasKernels() ||
    x.dtype !== 'float32' ||
    x.rank < 2 ||
    x.shape.at(-1) !== x.shape.at(-2) ||
    x.size === 0
  ) {
    return null;
  }
  const op = tf.customGrad((xs, save) => {
    const y = tf.engine().runKernel(CAUSAL_SOFTMAX, { x: xs as tf.Tensor }, { scale }) as tf.Tensor;
    (save as tf.GradSaveFunc)([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(CAUSAL_SOFTMAX_GRAD, { dy, y: saved[0]! }, { scale }) as tf.Tensor,
    };
  });
  return op(x);
}
