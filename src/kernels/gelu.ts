/**
 * GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), as one op with a one-pass gradient, for backends that have
 * its two kernels (wasm: registered by `registerWasmTrainingKernels`). The stock expression runs
 * five kernels forward (two products, erf, an add, a product) and about twice as many backward,
 * each a pass over the Transformer MLP's [tokens, 4·width] activations, its widest.
 *
 * erf is TF.js's own (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7, as its cpu and wasm Erf
 * kernels compute it), so the op gives what the stock expression gives; the gradient is the exact
 * derivative Φ(x) + x·φ(x), as TF.js's Erf gradient (2/√π·e^(−x²)) makes the stock one.
 */
import * as tf from '@tensorflow/tfjs';
import { heapFloats, type BackendWasmLike, type KernelPair, type TensorInfo } from './types.js';

export const GELU = 'WeightPredictionGelu';
export const GELU_GRAD = 'WeightPredictionGeluGrad';

const P = 0.3275911;
const A1 = 0.254829592;
const A2 = -0.284496736;
const A3 = 1.421413741;
const A4 = -1.453152027;
const A5 = 1.061405429;

/** TF.js's erf (tfjs-backend-cpu Erf: Abramowitz & Stegun 7.1.26). */
function erf(x: number): number {
  const sign = Math.sign(x);
  const v = Math.abs(x);
  const t = 1 / (1 + P * v);
  return sign * (1 - ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * Math.exp(-v * v));
}

export function geluValues(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
  }
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function geluGradValues(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const cdf = 0.5 * (1 + erf(v * Math.SQRT1_2));
    dx[i] = dy[i]! * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/**
 * The wasm kernels on the tensors' heap memory, running the given loops: the JS ones above, or
 * the addon's (wasm-native.ts).
 */
export function wasmGeluKernels(
  forward: typeof geluValues,
  gradient: typeof geluGradValues,
): KernelPair {
  return {
    forward: (args) => {
      const { x } = args.inputs as Record<string, TensorInfo>;
      const backend = args.backend as BackendWasmLike;
      const y = backend.makeOutput(x!.shape, 'float32');
      forward(heapFloats(backend, x!), heapFloats(backend, y));
      return y;
    },
    gradient: (args) => {
      const { dy, x } = args.inputs as Record<string, TensorInfo>;
      const backend = args.backend as BackendWasmLike;
      const dx = backend.makeOutput(x!.shape, 'float32');
      gradient(heapFloats(backend, dy!), heapFloats(backend, x!), heapFloats(backend, dx));
      return dx;
    },
  };
}

/** GELU of float32 x as one op; null when the backend lacks the kernels (use the stock ops). */
export function fusedGelu(x: tf.Tensor): tf.Tensor | null {
  const backend = tf.getBackend();
  if (
    x.dtype !== 'float32' ||
    tf.getKernel(GELU, backend) === undefined ||
    tf.getKernel(GELU_GRAD, backend) === undefined
  ) {
    return null;
  }
  const op = tf.customGrad((xs, save) => {
    (save as tf.GradSaveFunc)([xs as tf.Tensor]);
    return {
      value: tf.engine().runKernel(GELU, { x: xs as tf.Tensor }, {}) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(GELU_GRAD, { dy, x: saved[0]! }, {}) as tf.Tensor,
    };
  });
  return op(x);
}
