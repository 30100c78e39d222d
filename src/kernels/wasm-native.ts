/**
 * Matmul, convolution, leading-axes Sum/Mean, batch-norm, cross-entropy, GELU, layer-norm,
 * causal-softmax, LSTM-recurrence, max-pool-gradient, relu-gradient, shortcut and
 * global-average-pool kernels for the wasm backend that run in the native addon (OpenBLAS on every
 * core) on the tensors' wasm-heap memory, in place of the single-threaded XNNPACK and JS kernels.
 * Registered by `registerWasmTrainingKernels` when the addon is loaded; each falls back to the
 * kernel it replaced for what it does not cover (other dtypes, NCHW, PReLU and other fused
 * activations, broadcast patterns beyond "equal or 1").
 */
import * as tf from '@tensorflow/tfjs';
import {
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  movingAverageInto,
  type BatchNormTrainAttrs,
} from './batch-norm.js';
import { CAUSAL_SOFTMAX, CAUSAL_SOFTMAX_GRAD, wasmCausalSoftmaxKernels } from './causal-softmax.js';
import { LAYER_NORM, LAYER_NORM_GRAD, wasmLayerNormKernels } from './layer-norm.js';
import { GELU, GELU_GRAD, wasmGeluKernels } from './gelu.js';
import { SPARSE_XENT, SPARSE_XENT_GRAD } from './cross-entropy.js';
import { DENSE } from './dense.js';
import { LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD } from './lstm.js';
import { markTransposingMatMul } from './matmul.js';
import { RELU_GRAD, wasmReluGrad } from './relu-grad.js';
import { SPATIAL_MEAN, spatialMeanGradInto, wasmSpatialMeanKernels } from './global-pool.js';
import { SUBSAMPLE_PAD, SUBSAMPLE_PAD_GRAD, wasmSubsamplePadKernels } from './shortcut.js';
import type { NativeKernels } from '../accelerator.js';
import { replaceKernels } from './replace.js';
import {
  heapFloats as heap,
  type BackendWasmLike,
  type Kernel,
  type KernelArgs,
  type TensorInfo,
} from './types.js';

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/** The fused activations the addon applies itself (its activation codes). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

type Padding = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface ConvAttrs {
  strides: [number, number] | number;
  pad: Padding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): tf.backend_util.Conv2DInfo | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** The addon's 15 convolution dims, in native/conv.h's order. */
function dims(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** Elements from which Relu and Add run in the addon (an addon call costs ~1 µs more). */
const MIN_ELEMENTWISE = 4096;

function allFloat32(...infos: (TensorInfo | undefined)[]): boolean {
  return infos.every((t) => t === undefined || t.dtype === 'float32');
}

/** A bias the addon can add per output channel: absent, or one value per channel. */
function channelBias(bias: TensorInfo | undefined, channels: number): boolean {
  return bias === undefined || size(bias.shape) === channels;
}

export function registerNativeWasmKernels(native: NativeKernels): void {
  const previous = new Map<string, Kernel>();
  const fallback = (name: string, args: KernelArgs): TensorInfo => previous.get(name)!(args);

  /** Adds `bias` per channel (the last axis) and applies the activation, in place, if either. */
  function biasActivation(
    backend: BackendWasmLike,
    y: Float32Array,
    bias: TensorInfo | undefined,
    channels: number,
    act: number,
  ): void {
    if (bias !== undefined || act !== 0) {
      native.biasActivation(
        y,
        bias ? heap(backend, bias) : null,
        y.length / channels,
        channels,
        act,
      );
    }
  }

  function matMul(name: string): Kernel {
    return (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<
        string,
        TensorInfo | undefined
      > & { a: TensorInfo; b: TensorInfo };
      const { transposeA, transposeB, activation } = args.attrs as {
        transposeA: boolean;
        transposeB: boolean;
        activation?: string;
      };
      const act = ACTIVATIONS[activation ?? 'linear'];
      const outerA = a.shape.slice(0, -2);
      const outerB = b.shape.slice(0, -2);
      const batchA = size(outerA);
      const batchB = size(outerB);
      const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
      const m = transposeA ? a.shape.at(-1)! : a.shape.at(-2)!;
      const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
      const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
      if (
        act === undefined ||
        preluActivationWeights !== undefined ||
        !allFloat32(a, b, bias) ||
        !channelBias(bias, n) ||
        !(sameOuter || batchA === 1 || batchB === 1) ||
        m * n * k * batchA * batchB === 0
      ) {
        return fallback(name, args);
      }
      const backend = args.backend as BackendWasmLike;
      const outer = batchA >= batchB ? outerA : outerB;
      const out = backend.makeOutput([...outer, m, n], 'float32');
      const c = heap(backend, out);
      native.matMul(
        heap(backend, a),
        heap(backend, b),
        c,
        batchA,
        batchB,
        m,
        n,
        k,
        transposeA,
        transposeB,
      );
      biasActivation(backend, c, bias, n, act);
      return out;
    };
  }

  function conv2D(name: string): Kernel {
    return (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
        string,
        TensorInfo | undefined
      > & { x: TensorInfo; filter: TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs;
      const act = ACTIVATIONS[attrs.activation ?? 'linear'];
      const info = convInfo(x.shape, filter.shape, attrs);
      if (
        info === null ||
        act === undefined ||
        preluActivationWeights !== undefined ||
        !allFloat32(x, filter, bias) ||
        !channelBias(bias, info.outChannels) ||
        size(info.outShape) * size(filter.shape) === 0
      ) {
        return fallback(name, args);
      }
      const backend = args.backend as BackendWasmLike;
      const out = backend.makeOutput(info.outShape, 'float32');
      const y = heap(backend, out);
      native.conv2dForward(heap(backend, x), heap(backend, filter), y, ...dims(info));
      biasActivation(backend, y, bias, info.outChannels, act);
      return out;
    };
  }

  /**
   * A convolution gradient from inputs p and q into a new tensor of `outShape` (an attribute of
   * the kernel), or the kernel it replaced for what the addon does not cover.
   */
  function convGradient(
    name: string,
    args: KernelArgs,
    info: tf.backend_util.Conv2DInfo | null,
    [p, q]: [TensorInfo, TensorInfo],
    outShape: number[],
    run: NativeKernels['conv2dBackpropFilter'],
  ): TensorInfo {
    if (info === null || !allFloat32(p, q) || size(outShape) === 0) return fallback(name, args);
    const backend = args.backend as BackendWasmLike;
    const out = backend.makeOutput(outShape, 'float32');
    run(heap(backend, p), heap(backend, q), heap(backend, out), ...dims(info));
    return out;
  }

  const backpropFilter: Kernel = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
    const info = convInfo(x.shape, attrs.filterShape, attrs);
    return convGradient('Conv2DBackpropFilter', args, info, [x, dy], attrs.filterShape, (...a) =>
      native.conv2dBackpropFilter(...a),
    );
  };

  const backpropInput: Kernel = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const info = convInfo(attrs.inputShape, filter.shape, attrs);
    return convGradient('Conv2DBackpropInput', args, info, [dy, filter], attrs.inputShape, (...a) =>
      native.conv2dBackpropInput(...a),
    );
  };

  /** Sum and Mean over leading axes (batch and space: the batch-norm and bias gradients). */
  function leadingReduction(name: 'Sum' | 'Mean'): Kernel {
    return (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
      const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
      if (!leading || x.dtype !== 'float32' || size(x.shape) === 0) return fallback(name, args);
      const backend = args.backend as BackendWasmLike;
      const rows = size(x.shape.slice(0, axes.length));
      const kept = x.shape.slice(axes.length);
      const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
      const out = backend.makeOutput(outShape, 'float32');
      const scale = name === 'Mean' ? 1 / rows : 1;
      native.columnSums(heap(backend, x), heap(backend, out), rows, size(kept), scale);
      return out;
    };
  }

  /**
   * Global average pooling (global-pool.ts): column means of each image's [pixels, channels]. Only
   * the forward kernel is registered: the gradient, a broadcast copy, stays wasm.ts's JS loop.
   */
  const spatialMean = wasmSpatialMeanKernels((xs, ys, shape) => {
    const [b, h, w, c] = shape as [number, number, number, number];
    const n = h * w;
    for (let i = 0; i < b; i++) {
      native.columnSums(
        xs.subarray(i * n * c, (i + 1) * n * c),
        ys.subarray(i * c, (i + 1) * c),
        n,
        c,
        1 / n,
      );
    }
  }, spatialMeanGradInto);

  /**
   * Batch norm in training over the last axis: [y, mean, variance, moving mean, moving variance]
   * (see batch-norm.ts).
   */
  const batchNormTrain: Kernel = (args) => {
    const { x, gamma, beta, movingMean, movingVariance } = args.inputs as Record<
      string,
      TensorInfo
    >;
    const { epsilon, momentum } = args.attrs as unknown as BatchNormTrainAttrs;
    const backend = args.backend as BackendWasmLike;
    const channels = x!.shape.at(-1)!;
    const rows = size(x!.shape) / channels;
    const y = backend.makeOutput(x!.shape, 'float32');
    const mean = backend.makeOutput([channels], 'float32');
    const variance = backend.makeOutput([channels], 'float32');
    native.batchNormForward(
      heap(backend, x!),
      heap(backend, gamma!),
      heap(backend, beta!),
      heap(backend, y),
      heap(backend, mean),
      heap(backend, variance),
      rows,
      channels,
      epsilon,
    );
    const newMean = backend.makeOutput([channels], 'float32');
    const newVariance = backend.makeOutput([channels], 'float32');
    for (const [moving, batch, out] of [
      [movingMean!, mean, newMean],
      [movingVariance!, variance, newVariance],
    ] as const) {
      movingAverageInto(heap(backend, moving), heap(backend, batch), momentum, heap(backend, out));
    }
    return [y, mean, variance, newMean, newVariance] as unknown as TensorInfo;
  };

  /** Its gradient: [dx, dγ, dβ]. */
  const batchNormGrad: Kernel = (args) => {
    const { dy, x, mean, variance, gamma } = args.inputs as Record<string, TensorInfo>;
    const { epsilon } = args.attrs as { epsilon: number };
    const backend = args.backend as BackendWasmLike;
    const channels = x!.shape.at(-1)!;
    const rows = size(x!.shape) / channels;
    const dx = backend.makeOutput(x!.shape, 'float32');
    const dgamma = backend.makeOutput([channels], 'float32');
    const dbeta = backend.makeOutput([channels], 'float32');
    native.batchNormBackward(
      heap(backend, dy!),
      heap(backend, x!),
      heap(backend, mean!),
      heap(backend, variance!),
      heap(backend, gamma!),
      heap(backend, dx),
      heap(backend, dgamma),
      heap(backend, dbeta),
      rows,
      channels,
      epsilon,
    );
    return [dx, dgamma, dbeta] as unknown as TensorInfo;
  };

  /** Sparse softmax cross-entropy: [mean loss, per-row logsumexp] (see cross-entropy.ts). */
  const sparseXent: Kernel = (args) => {
    const { logits, labels } = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as BackendWasmLike;
    const [rows, classes] = logits!.shape as [number, number];
    const loss = backend.makeOutput([], 'float32');
    const lse = backend.makeOutput([rows], 'float32');
    heap(backend, loss)[0] = native.sparseSoftmaxCrossEntropy(
      heap(backend, logits!),
      backend.typedArrayFromHeap(labels!) as Int32Array,
      heap(backend, lse),
      rows,
      classes,
    );
    return [loss, lse] as unknown as TensorInfo;
  };

  /** Its gradient for the logits: dy/rows · (softmax − onehot). */
  const sparseXentGrad: Kernel = (args) => {
    const { dy, logits, labels, lse } = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as BackendWasmLike;
    const [rows, classes] = logits!.shape as [number, number];
    const grad = backend.makeOutput([rows, classes], 'float32');
    const scale = heap(backend, dy!)[0]! / rows;
    native.sparseSoftmaxCrossEntropyGrad(
      heap(backend, logits!),
      backend.typedArrayFromHeap(labels!) as Int32Array,
      heap(backend, lse!),
      heap(backend, grad),
      rows,
      classes,
      scale,
    );
    return grad;
  };

  /** act(x · kernel + bias) for x [rows, in] (see dense.ts): the product, then one bias pass. */
  const dense: Kernel = (args) => {
    const { x, kernel, bias } = args.inputs as Record<string, TensorInfo | undefined> & {
      x: TensorInfo;
      kernel: TensorInfo;
    };
    const act = ACTIVATIONS[(args.attrs as { activation: string }).activation]!;
    const backend = args.backend as BackendWasmLike;
    const [rows, k] = x.shape as [number, number];
    const n = kernel.shape[1]!;
    const out = backend.makeOutput([rows, n], 'float32');
    const y = heap(backend, out);
    if (rows * n === 0) return out;
    if (k === 0) y.fill(0);
    else native.matMul(heap(backend, x), heap(backend, kernel), y, 1, 1, rows, n, k, false, false);
    biasActivation(backend, y, bias, n, act);
    return out;
  };

  /** Relu's gradient, the option-A shortcut and its gradient, GELU and its gradient: one pass each. */
  const reluGrad = wasmReluGrad((dy, x, dx) => native.reluGrad(dy, x, dx));

  /**
   * Relu, and Add of two float32 tensors of one shape (residual connections, the tape's sums of
   * gradients) on every thread; the stock kernels run on one. Small tensors (the loss's scalars)
   * and broadcasting adds keep the stock kernels.
   */
  const relu: Kernel = (args) => {
    const { x } = args.inputs as Record<string, TensorInfo>;
    if (!allFloat32(x) || size(x!.shape) < MIN_ELEMENTWISE) return fallback('Relu', args);
    const backend = args.backend as BackendWasmLike;
    const out = backend.makeOutput(x!.shape, 'float32');
    native.relu(heap(backend, x!), heap(backend, out));
    return out;
  };
  const add: Kernel = (args) => {
    const { a, b } = args.inputs as Record<string, TensorInfo>;
    if (
      !allFloat32(a, b) ||
      size(a!.shape) < MIN_ELEMENTWISE ||
      !tf.util.arraysEqual(a!.shape, b!.shape)
    ) {
      return fallback('Add', args);
    }
    const backend = args.backend as BackendWasmLike;
    const out = backend.makeOutput(a!.shape, 'float32');
    native.add(heap(backend, a!), heap(backend, b!), heap(backend, out));
    return out;
  };
  const nhwc = (shape: readonly number[]) => shape as [number, number, number, number];
  const shortcut = wasmSubsamplePadKernels(
    (x, y, shape, s, filters) => native.subsamplePad(x, y, ...nhwc(shape), s, filters),
    (dy, dx, shape, s, filters) => native.subsamplePadGrad(dy, dx, ...nhwc(shape), s, filters),
  );
  const gelu = wasmGeluKernels(
    (x, y) => native.gelu(x, y),
    (dy, x, dx) => native.geluGrad(dy, x, dx),
  );

  /** Layer norm and causal attention's softmax on all threads: their JS row loops in C++. */
  const layerNorm = wasmLayerNormKernels(
    (...args) => native.layerNorm(...args),
    (...args) => native.layerNormGrad(...args),
  );
  const causalSoftmax = wasmCausalSoftmaxKernels(
    (...args) => native.causalSoftmax(...args),
    (...args) => native.causalSoftmaxGrad(...args),
  );

  /** An LSTM layer's whole recurrence: [out, gates, cells] (see lstm.ts, native/lstm.h). */
  const lstmSequence: Kernel = (args) => {
    const { projected, h0, c0, recurrent } = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as BackendWasmLike;
    const [b, t, g] = projected!.shape as [number, number, number];
    const h = g / 4;
    const out = backend.makeOutput([b, t + 1, h], 'float32');
    const gates = backend.makeOutput([b, t, g], 'float32');
    const cells = backend.makeOutput([b, t, h], 'float32');
    native.lstmForward(
      heap(backend, projected!),
      heap(backend, h0!),
      heap(backend, c0!),
      heap(backend, recurrent!),
      heap(backend, out),
      heap(backend, gates),
      heap(backend, cells),
      b,
      t,
      h,
    );
    return [out, gates, cells] as unknown as TensorInfo;
  };

  /** Its gradient: [dprojected, dh0, dc0, drecurrent]. */
  const lstmSequenceGrad: Kernel = (args) => {
    const { dy, gates, cells, out, h0, c0, recurrent } = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as BackendWasmLike;
    const [b, t, g] = gates!.shape as [number, number, number];
    const h = g / 4;
    const dProjected = backend.makeOutput([b, t, g], 'float32');
    const dh0 = backend.makeOutput([b, h], 'float32');
    const dc0 = backend.makeOutput([b, h], 'float32');
    const dRecurrent = backend.makeOutput([h, g], 'float32');
    native.lstmBackward(
      heap(backend, dy!),
      heap(backend, gates!),
      heap(backend, cells!),
      heap(backend, out!),
      heap(backend, h0!),
      heap(backend, c0!),
      heap(backend, recurrent!),
      heap(backend, dProjected),
      heap(backend, dh0),
      heap(backend, dc0),
      heap(backend, dRecurrent),
      b,
      t,
      h,
    );
    return [dProjected, dh0, dc0, dRecurrent] as unknown as TensorInfo;
  };

  const maxPoolGrad: Kernel = (args) => {
    const { dy, input } = args.inputs as Record<string, TensorInfo>;
    const attrs = args.attrs as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: Padding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (!allFloat32(dy, input) || size(input!.shape) === 0) return fallback('MaxPoolGrad', args);
    const info = tf.backend_util.computePool2DInfo(
      input!.shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const backend = args.backend as BackendWasmLike;
    const out = backend.makeOutput(input!.shape, 'float32');
    native.maxPoolGrad(
      heap(backend, input!),
      heap(backend, dy!),
      heap(backend, out),
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
    return out;
  };

  const batchMatMul = matMul('BatchMatMul');
  markTransposingMatMul(batchMatMul);
  replaceKernels(
    'wasm',
    [
      [DENSE, dense],
      [RELU_GRAD, reluGrad],
      ['Relu', relu],
      ['Add', add],
      [SUBSAMPLE_PAD, shortcut.forward],
      [SUBSAMPLE_PAD_GRAD, shortcut.gradient],
      [SPATIAL_MEAN, spatialMean.forward],
      [GELU, gelu.forward],
      [GELU_GRAD, gelu.gradient],
      [LAYER_NORM, layerNorm.forward],
      [LAYER_NORM_GRAD, layerNorm.gradient],
      [CAUSAL_SOFTMAX, causalSoftmax.forward],
      [CAUSAL_SOFTMAX_GRAD, causalSoftmax.gradient],
      ['MaxPoolGrad', maxPoolGrad],
      [LSTM_SEQUENCE, lstmSequence],
      [LSTM_SEQUENCE_GRAD, lstmSequenceGrad],
      [SPARSE_XENT, sparseXent],
      [SPARSE_XENT_GRAD, sparseXentGrad],
      [BATCH_NORM_TRAIN, batchNormTrain],
      [BATCH_NORM_GRAD, batchNormGrad],
      ['Sum', leadingReduction('Sum')],
      ['Mean', leadingReduction('Mean')],
      ['BatchMatMul', batchMatMul],
      ['_FusedMatMul', matMul('_FusedMatMul')],
      ['Conv2D', conv2D('Conv2D')],
      ['FusedConv2D', conv2D('FusedConv2D')],
      ['Conv2DBackpropFilter', backpropFilter],
      ['Conv2DBackpropInput', backpropInput],
    ],
    (name, config) => previous.set(name, config.kernelFunc as unknown as Kernel),
  );
}
