/**
 * Layer normalization over the last axis as one op with a one-pass gradient, for backends that
 * have its two kernels (wasm: registered by `registerWasmTrainingKernels`). The stock path —
 * moments, subtract, rsqrt, two multiplies and an add — runs about 9 kernels forward and twice as
 * many backward, each a pass over the activations and each costing engine time comparable to the
 * arithmetic of a Transformer's [tokens, width] rows.
 *
 * Forward per row: mean, the biased variance (two passes, so no cancellation), rstd = 1/√(var + ε),
 * y = (x − mean)·rstd·gamma + beta; sums in float64. The row's mean and rstd are kept for the
 * gradient, which with x̂ = (x − mean)·rstd and g = dy·gamma is
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dgamma = Σ_rows dy·x̂, dbeta = Σ_rows dy.
 */
import * as tf from '@tensorflow/tfjs';
import { heapFloats, type BackendWasmLike, type KernelPair, type TensorInfo } from './types.js';

export const LAYER_NORM = 'WeightPredictionLayerNorm';
export const LAYER_NORM_GRAD = 'WeightPredictionLayerNormGrad';

/** y, and each row's mean and rstd, for `rows` rows of `cols` values (float64 sums). */
export function layerNormRows(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  rows: number,
  cols: number,
  epsilon: number,
): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[o + c]!;
    const m = sum / cols;
    let squares = 0;
    for (let c = 0; c < cols; c++) {
      const d = x[o + c]! - m;
      squares += d * d;
    }
    const rs = 1 / Math.sqrt(squares / cols + epsilon);
    mean[r] = m;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) y[o + c] = (x[o + c]! - m) * rs * gamma[c]! + beta[c]!;
  }
}

/** dx, dgamma and dbeta from the forward's mean and rstd (float64 sums). */
export function layerNormGradRows(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
  rows: number,
  cols: number,
): void {
  const sumGamma = new Float64Array(cols);
  const sumBeta = new Float64Array(cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const m = mean[r]!;
    const rs = rstd[r]!;
    let sumG = 0;
    let sumGx = 0;
    for (let c = 0; c < cols; c++) {
      const d = dy[o + c]!;
      const xhat = (x[o + c]! - m) * rs;
      const g = d * gamma[c]!;
      sumG += g;
      sumGx += g * xhat;
      sumGamma[c]! += d * xhat;
      sumBeta[c]! += d;
    }
    const meanG = sumG / cols;
    const meanGx = sumGx / cols;
    for (let c = 0; c < cols; c++) {
      const xhat = (x[o + c]! - m) * rs;
      dx[o + c] = rs * (dy[o + c]! * gamma[c]! - meanG - xhat * meanGx);
    }
  }
  dgamma.set(sumGamma);
  dbeta.set(sumBeta);
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/** The row loops' signatures: layerNormRows's and layerNormGradRows's (and the addon's). */
export type LayerNormRows = typeof layerNormRows;
export type LayerNormGradRows = typeof layerNormGradRows;

/**
 * The wasm kernels on the tensors' heap memory, running the given row loops: the JS ones above,
 * or the addon's (wasm-native.ts).
 */
export function wasmLayerNormKernels(
  forward: LayerNormRows,
  gradient: LayerNormGradRows,
): KernelPair {
  return {
    forward: (args) => {
      const { x, gamma, beta } = args.inputs as Record<string, TensorInfo>;
      const { epsilon } = args.attrs as { epsilon: number };
      const backend = args.backend as BackendWasmLike;
      const cols = x!.shape.at(-1)!;
      const rows = size(x!.shape) / cols;
      const y = backend.makeOutput(x!.shape, 'float32');
      const mean = backend.makeOutput([rows], 'float32');
      const rstd = backend.makeOutput([rows], 'float32');
      // Views taken after every allocation: growing the wasm memory detaches earlier ones.
      const heap = (t: TensorInfo) => heapFloats(backend, t);
      forward(
        heap(x!),
        heap(gamma!),
        heap(beta!),
        heap(y),
        heap(mean),
        heap(rstd),
        rows,
        cols,
        epsilon,
      );
      return [y, mean, rstd] as unknown as TensorInfo;
    },
    gradient: (args) => {
      const { dy, x, gamma, mean, rstd } = args.inputs as Record<string, TensorInfo>;
      const backend = args.backend as BackendWasmLike;
      const cols = x!.shape.at(-1)!;
      const rows = size(x!.shape) / cols;
      const dx = backend.makeOutput(x!.shape, 'float32');
      const dgamma = backend.makeOutput([cols], 'float32');
      const dbeta = backend.makeOutput([cols], 'float32');
      const heap = (t: TensorInfo) => heapFloats(backend, t);
      gradient(
        heap(dy!),
        heap(x!),
        heap(gamma!),
        heap(mean!),
        heap(rstd!),
        heap(dx),
        heap(dgamma),
        heap(dbeta),
        rows,
        cols,
      );
      return [dx, dgamma, dbeta] as unknown as TensorInfo;
    },
  };
}

function hasKernels(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(LAYER_NORM, backend) !== undefined &&
    tf.getKernel(LAYER_NORM_GRAD, backend) !== undefined
  );
}

/**
 * (x − mean)/√(var + ε)·gamma + beta over the last axis of float32 x, with gamma and beta of that
 * axis's length, as one op. Null when the backend lacks the kernels: the caller uses the stock ops.
 */
export function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): tf.Tensor | null {
  const cols = x.shape.at(-1);
  if (
    !hasKernels() ||
    x.rank < 1 ||
    x.size === 0 ||
    ![x, gamma, beta].every((t) => t.dtype === 'float32') ||
    gamma.rank !== 1 ||
    beta.rank !== 1 ||
    gamma.shape[0] !== cols ||
    beta.shape[0] !== cols
  ) {
    return null;
  }
  const op = tf.customGrad((xs, g, b, save) => {
    const [y, mean, rstd] = tf.engine().runKernel(
      LAYER_NORM,
      { x: xs as tf.Tensor, gamma: g as tf.Tensor, beta: b as tf.Tensor },
      {
        epsilon,
      },
    ) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    (save as tf.GradSaveFunc)([xs as tf.Tensor, g as tf.Tensor, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sMean, sRstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf
          .engine()
          .runKernel(LAYER_NORM_GRAD, { dy, x: sx, gamma: sg, mean: sMean, rstd: sRstd }, {}) as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
        ];
      },
    };
  });
  return op(x, gamma, beta);
}
