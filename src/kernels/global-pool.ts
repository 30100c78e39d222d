/**
 * Global average pooling over the spatial axes of NHWC images as one kernel each way, for backends
 * that have them (wasm: JS loops on the heap, the forward natively with the addon). The stock
 * `mean(x, [1, 2])` is a slow generic reduction on wasm, and its gradient builds a full-size
 * tensor of ones on the JS heap, multiplies and divides: three passes where one does.
 */
import * as tf from '@tensorflow/tfjs';
import { heapFloats, type BackendWasmLike, type KernelPair, type TensorInfo } from './types.js';

export const SPATIAL_MEAN = 'WeightPredictionSpatialMean';
export const SPATIAL_MEAN_GRAD = 'WeightPredictionSpatialMeanGrad';

/** y[b, c] = Σ_p x[b, p, c] · (1/n) over the n = h·w pixels, summed in float64 in pixel order. */
export function spatialMeanInto(x: Float32Array, y: Float32Array, shape: readonly number[]): void {
  const [b, h, w, c] = shape as [number, number, number, number];
  const n = h * w;
  const scale = 1 / n;
  const acc = new Float64Array(c);
  for (let i = 0; i < b; i++) {
    acc.fill(0);
    for (let p = 0, o = i * n * c; p < n; p++, o += c) {
      for (let k = 0; k < c; k++) acc[k]! += x[o + k]!;
    }
    for (let k = 0; k < c; k++) y[i * c + k] = acc[k]! * scale;
  }
}

/** dx[b, p, c] = dy[b, c] / n, rounded as the stock gradient's float32 division rounds it. */
export function spatialMeanGradInto(
  dy: Float32Array,
  dx: Float32Array,
  shape: readonly number[],
): void {
  const [b, h, w, c] = shape as [number, number, number, number];
  const n = h * w;
  const row = new Float32Array(c);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < c; k++) row[k] = dy[i * c + k]! / n;
    for (let p = 0; p < n; p++) dx.set(row, (i * n + p) * c);
  }
}

/**
 * The wasm kernels on the tensors' heap memory, running the given loops: the JS ones above, or
 * the addon's (wasm-native.ts).
 */
export function wasmSpatialMeanKernels(
  forward: typeof spatialMeanInto,
  gradient: typeof spatialMeanGradInto,
): KernelPair {
  return {
    forward: (args) => {
      const { x } = args.inputs as Record<string, TensorInfo>;
      const backend = args.backend as BackendWasmLike;
      const [b, , , c] = x!.shape as [number, number, number, number];
      const y = backend.makeOutput([b, c], 'float32');
      forward(heapFloats(backend, x!), heapFloats(backend, y), x!.shape);
      return y;
    },
    gradient: (args) => {
      const { dy, x } = args.inputs as Record<string, TensorInfo>;
      const backend = args.backend as BackendWasmLike;
      const dx = backend.makeOutput(x!.shape, 'float32');
      gradient(heapFloats(backend, dy!), heapFloats(backend, dx), x!.shape);
      return dx;
    },
  };
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: SPATIAL_MEAN,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      return {
        x: () =>
          tf.engine().runKernel(SPATIAL_MEAN_GRAD, { dy: dy as tf.Tensor, x }, {}) as tf.Tensor,
      };
    },
  });
  gradientRegistered = true;
}

/**
 * `mean(x, [1, 2])` of float32 NHWC `x` as one op with a one-kernel gradient; null when the
 * backend lacks the kernels or x has no pixels (the caller then uses the stock op).
 */
export function spatialMean(x: tf.Tensor4D): tf.Tensor2D | null {
  const backend = tf.getBackend();
  if (
    x.dtype !== 'float32' ||
    x.shape[1] * x.shape[2] === 0 ||
    tf.getKernel(SPATIAL_MEAN, backend) === undefined ||
    tf.getKernel(SPATIAL_MEAN_GRAD, backend) === undefined
  ) {
    return null;
  }
  registerGradient();
  return tf.engine().runKernel(SPATIAL_MEAN, { x }, {}) as tf.Tensor2D;
}
