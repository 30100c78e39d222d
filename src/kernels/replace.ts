import * as tf from '@tensorflow/tfjs';
import type { KernelArgs, TensorInfo } from './types.js';

/**
 * Registers `kernels` on `backend` in place of whatever is registered there, handing each kernel
 * it replaces to `onReplaced` first. The stock setup and dispose functions are kept: a stock kernel
 * we delegate to is initialised by them when the backend starts.
 */
export function replaceKernels(
  backend: string,
  kernels: readonly [string, (args: KernelArgs) => TensorInfo][],
  onReplaced: (name: string, previous: tf.KernelConfig) => void = () => {},
): void {
  for (const [kernelName, kernelFunc] of kernels) {
    const previous = tf.getKernel(kernelName, backend);
    if (previous !== undefined) {
      onReplaced(kernelName, previous);
      tf.unregisterKernel(kernelName, backend);
    }
    tf.registerKernel({
      kernelName,
      backendName: backend,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
      ...(previous?.setupFunc ? { setupFunc: previous.setupFunc } : {}),
      ...(previous?.disposeFunc ? { disposeFunc: previous.disposeFunc } : {}),
    });
  }
}
