/**
 * A dense layer's forward pass, act(x · W + b), as one kernel with a gradient of one relu pass and
 * the products. Recording a gradient, TF.js runs it unfused (tfjs-core's `shouldFuse` refuses
 * fused activations then): a matmul, a bias add and a relu forward, and backward a step, a cast,
 * a multiply, a sum, reshapes and the products: about 32 kernel calls in an MLP step's dense
 * layers where 13 do, each costing engine time comparable to the arithmetic of a 1–2 ms step.
 *
 * `WeightPredictionDense` takes {x: [rows, in], kernel: [in, units], bias?: [units]} and the attr
 * `activation` ('linear' or 'relu'). Its gradient gives each input lazily, as TF.js's own
 * gradients do, so a first layer's input gradient is never computed.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from './relu-grad.js';

export const DENSE = 'WeightPredictionDense';

export type DenseActivation = 'linear' | 'relu';

let gradientRegistered = false;

function registerDenseGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: DENSE,
    inputsToSave: ['x', 'kernel'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, kernel, y] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const activation = (attrs as { activation: DenseActivation }).activation;
      // relu′ from the output: y > 0 exactly where x·W + b > 0, and y is NaN where it is.
      const dz =
        activation === 'relu'
          ? (tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x: y }, {}) as tf.Tensor2D)
          : (dy as tf.Tensor2D);
      return {
        x: () => tf.matMul(dz, kernel, false, true),
        kernel: () => tf.matMul(x, dz, true, false),
        bias: () => tf.sum(dz, 0),
      };
    },
  });
  gradientRegistered = true;
}

/**
 * act(x · kernel + bias) for float32 x [rows, in], kernel [in, units] and bias [units] (or none),
 * as one op. Null where it does not apply (another rank, dtype or activation, or a backend
 * without the kernel): the caller then uses the stock ops.
 */
export function fusedDense(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
  activation: string,
): tf.Tensor2D | null {
  const backend = tf.getBackend();
  if (
    (activation !== 'linear' && activation !== 'relu') ||
    x.rank !== 2 ||
    kernel.rank !== 2 ||
    x.shape[1] !== kernel.shape[0] ||
    (bias !== null && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1])) ||
    ![x, kernel, bias].every((t) => t === null || t.dtype === 'float32') ||
    tf.getKernel(DENSE, backend) === undefined ||
    (activation === 'relu' && tf.getKernel(RELU_GRAD, backend) === undefined)
  ) {
    return null;
  }
  registerDenseGradient();
  const inputs: tf.NamedTensorMap = bias === null ? { x, kernel } : { x, kernel, bias };
  return tf.engine().runKernel(DENSE, inputs, { activation }) as tf.Tensor2D;
}
