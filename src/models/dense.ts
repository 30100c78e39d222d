import * as tf from '@tensorflow/tfjs';
import { fusedDense } from '../kernels/dense.js';

/** The parts of tfjs-layers' Dense that its call uses (private there). */
interface DenseInternals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { getClassName(): string } | null;
}

/**
 * `tf.layers.dense`, whose matmul, bias and relu (or no activation) run as one op with a one-pass
 * gradient where the backend has it (wasm with the native addon; see kernels/dense.ts) and as the
 * stock ops elsewhere, for inputs of rank 2. Same weights, config and class name, so saved
 * models load as the stock layer.
 */
export function dense(args: Parameters<typeof tf.layers.dense>[0]): tf.layers.Layer {
  const layer = tf.layers.dense(args);
  const stockCall = layer.call.bind(layer);
  const own = layer as unknown as DenseInternals;
  layer.call = (inputs, kwargs) => {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (Array.isArray(inputs) && inputs.length !== 1) return stockCall(inputs, kwargs);
    const activation = own.activation?.getClassName() ?? 'linear';
    // read() hands out the variables themselves: the op's output is the only new tensor.
    return (
      fusedDense(x, own.kernel.read(), own.bias?.read() ?? null, activation) ??
      stockCall(inputs, kwargs)
    );
  };
  return layer;
}
