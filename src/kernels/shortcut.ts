/**
 * He et al.'s option-A ResNet shortcut (src/models/layers.ts `ZeroPadShortcut`) as one kernel each
 * way, for backends that have them (wasm: JS loops on the heap, natively with the addon). The
 * stock ops build it from pad, reshape and slice, whose gradients are slice and pad: three full
 * copies forward and three backward, each a slow stock kernel on wasm. Pure copies and zeros, so
 * the op gives the stock ops' values and gradients bit for bit (NaN copied as NaN).
 */
import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { heapFloats, type BackendWasmLike, type KernelPair, type TensorInfo } from './types.js';

export const SUBSAMPLE_PAD = 'WeightPredictionSubsamplePad';
export const SUBSAMPLE_PAD_GRAD = 'WeightPredictionSubsamplePadGrad';

/** The kernels' attributes: the spatial stride and the number of output channels. */
export interface SubsamplePadAttrs {
  strides: number;
  filters: number;
}

/** The output shape [b, ⌈h/s⌉, ⌈w/s⌉, filters] of an NHWC input shape. */
export function subsamplePadShape(shape: readonly number[], s: number, filters: number): number[] {
  const [b, h, w] = shape as [number, number, number];
  return [b, Math.ceil(h / s), Math.ceil(w / s), filters];
}

/** y[b, i, j, c] = x[b, i·s, j·s, c] for c < channels, 0 up to `filters` (y is overwritten). */
export function subsamplePadInto(
  x: Float32Array,
  y: Float32Array,
  shape: readonly number[],
  s: number,
  filters: number,
): void {
  const [b, h, w, c] = shape as [number, number, number, number];
  const ho = Math.ceil(h / s);
  const wo = Math.ceil(w / s);
  let o = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const from = ((n * h + i * s) * w + j * s) * c;
        for (let k = 0; k < c; k++) y[o++] = x[from + k]!;
        for (let k = c; k < filters; k++) y[o++] = 0;
      }
    }
  }
}

/** dx[b, h, w, c] = dy[b, h/s, w/s, c] where s divides h and w, else 0 (dx is overwritten). */
export function subsamplePadGradInto(
  dy: Float32Array,
  dx: Float32Array,
  shape: readonly number[],
  s: number,
  filters: number,
): void {
  const [b, h, w, c] = shape as [number, number, number, number];
  const ho = Math.ceil(h / s);
  const wo = Math.ceil(w / s);
  dx.fill(0);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const to = ((n * h + i * s) * w + j * s) * c;
        const from = ((n * ho + i) * wo + j) * filters;
        for (let k = 0; k < c; k++) dx[to + k] = dy[from + k]!;
      }
    }
  }
}

/**
 * The wasm kernels on the tensors' heap memory, running the given copy loops: the JS ones above,
 * or the addon's (wasm-native.ts).
 */
export function wasmSubsamplePadKernels(
  forward: typeof subsamplePadInto,
  gradient: typeof subsamplePadGradInto,
): KernelPair {
  return {
    forward: (args) => {
      const { x } = args.inputs as Record<string, TensorInfo>;
      const { strides, filters } = args.attrs as unknown as SubsamplePadAttrs;
      const backend = args.backend as BackendWasmLike;
      const y = backend.makeOutput(subsamplePadShape(x!.shape, strides, filters), 'float32');
      forward(heapFloats(backend, x!), heapFloats(backend, y), x!.shape, strides, filters);
      return y;
    },
    gradient: (args) => {
      const { dy, x } = args.inputs as Record<string, TensorInfo>;
      const { strides, filters } = args.attrs as unknown as SubsamplePadAttrs;
      const backend = args.backend as BackendWasmLike;
      const dx = backend.makeOutput(x!.shape, 'float32');
      gradient(heapFloats(backend, dy!), heapFloats(backend, dx), x!.shape, strides, filters);
      return dx;
    },
  };
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: SUBSAMPLE_PAD,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      return {
        x: () =>
          tf
            .engine()
            .runKernel(
              SUBSAMPLE_PAD_GRAD,
              { dy: dy as tf.Tensor, x },
              attrs as unknown as tf.NamedAttrMap,
            ) as tf.Tensor,
      };
    },
  });
  gradientRegistered = true;
}

/**
 * x[:, ::s, ::s, :] with its channels zero-padded to `filters`, for float32 NHWC `x`, as one op
 * with a one-kernel gradient; null when the backend lacks the kernels (the caller then uses the
 * stock ops).
 */
export function subsamplePad(x: tf.Tensor4D, strides: number, filters: number): tf.Tensor4D | null {
  const backend = tf.getBackend();
  if (
    x.dtype !== 'float32' ||
    tf.getKernel(SUBSAMPLE_PAD, backend) === undefined ||
    tf.getKernel(SUBSAMPLE_PAD_GRAD, backend) === undefined
  ) {
    return null;
  }
  const channels = x.shape[3];
  if (
    !Number.isInteger(strides) ||
    strides < 1 ||
    !Number.isInteger(filters) ||
    filters < channels
  ) {
    throw new UserInputError(
      `subsamplePad needs a positive integer stride and at least ${channels} filters, got ` +
        `strides ${strides}, filters ${filters}`,
    );
  }
  registerGradient();
  const attrs: SubsamplePadAttrs = { strides, filters };
  return tf
    .engine()
    .runKernel(SUBSAMPLE_PAD, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
