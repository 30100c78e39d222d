import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-layers' Conv2D that its call uses (private there). */
interface ConvInternals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { getClassName(): string } | null;
  strides: [number, number];
  padding: string;
  dataFormat: string;
  dilationRate: [number, number];
}

/**
 * `tf.layers.conv2d`, whose bias-free, linear convolutions (ResNet's, each followed by
 * BatchNorm) call `tf.conv2d` instead of the stock layer's `tf.fused.conv2d`. Under a gradient
 * tape the fused op's custom gradient computes the input's gradient whether or not anything needs
 * it; `tf.conv2d`'s gradient is computed per input, so the first layer's (the data's) is skipped.
 * The same forward kernel, and the same gradient kernels, so the same bits. Other configurations
 * call the stock layer (with an activation, the stock op already un-fuses under a tape). Same
 * weights, config and class name, so saved models load as the stock layer.
 */
export function conv2d(args: Parameters<typeof tf.layers.conv2d>[0]): tf.layers.Layer {
  const layer = tf.layers.conv2d(args);
  const stockCall = layer.call.bind(layer);
  const own = layer as unknown as ConvInternals;
  layer.call = (inputs, kwargs) => {
    if (Array.isArray(inputs) && inputs.length !== 1) return stockCall(inputs, kwargs);
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const linear = (own.activation?.getClassName() ?? 'linear') === 'linear';
    if (own.bias !== null || !linear || own.dataFormat !== 'channelsLast' || x.rank !== 4) {
      return stockCall(inputs, kwargs);
    }
    return tf.conv2d(
      x as tf.Tensor4D,
      own.kernel.read() as tf.Tensor4D,
      own.strides,
      own.padding === 'same' ? 'same' : 'valid',
      'NHWC',
      own.dilationRate,
    );
  };
  return layer;
}
