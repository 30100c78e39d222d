/**
 * The gradient of relu as one kernel. TF.js registers it as `dy.mul(cast(step(x)))`: three kernels,
 * two intermediate tensors and three passes over every rectified activation (7 ms of a VGG step).
 * `registerReluGradient` replaces the registered gradient of `Relu` with one that calls
 * `WeightPredictionReluGrad` where the active backend has it (cpu, and wasm: natively with the
 * addon) and the stock gradient otherwise. The result is the same bit for bit: dy · step(x), with
 * step(x) = 1 for x > 0, NaN for NaN and 0 otherwise (so −0 for a negative dy where x ≤ 0).
 */
import * as tf from '@tensorflow/tfjs';
import { heapFloats, type BackendWasmLike, type Kernel, type TensorInfo } from './types.js';

export const RELU_GRAD = 'WeightPredictionReluGrad';

/** dx[i] = dy[i] · step(x[i]), in JS: the kernel where the addon is absent. */
export function reluGradInto(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < dx.length; i++) {
    const v = x[i]!;
    dx[i] = dy[i]! * (v > 0 ? 1 : v !== v ? v : 0);
  }
}

/**
 * The wasm kernel on the tensors' heap memory, running the given loop: the JS one above, or the
 * addon's (wasm-native.ts).
 */
export function wasmReluGrad(into: typeof reluGradInto): Kernel {
  return (args) => {
    const { dy, x } = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as BackendWasmLike;
    const dx = backend.makeOutput(x!.shape, 'float32');
    into(heapFloats(backend, dy!), heapFloats(backend, x!), heapFloats(backend, dx));
    return dx;
  };
}

let registered = false;

/** Installs the one-kernel relu gradient (see the module comment). Idempotent. */
export function registerReluGradient(): void {
  if (registered) return;
  const stock = tf.getGradient('Relu');
  if (stock === undefined) throw new Error("TF.js has no gradient registered for 'Relu'");
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const dyTensor = dy as tf.Tensor;
      if (
        x.dtype !== 'float32' ||
        dyTensor.dtype !== 'float32' ||
        tf.getKernel(RELU_GRAD, tf.getBackend()) === undefined
      ) {
        return stock.gradFunc(dy, saved, attrs);
      }
      return {
        x: () => tf.engine().runKernel(RELU_GRAD, { dy: dyTensor, x }, {}) as tf.Tensor,
      };
    },
  });
  registered = true;
}
