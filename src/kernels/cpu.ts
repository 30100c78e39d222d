/**
 * Training kernels for TF.js's cpu backend, the fallback when wasm cannot start. Its stock
 * `Conv2DBackpropFilter` is a naive 7-deep loop and its `UnsortedSegmentSum` runs one masked
 * reduction per segment (vocabulary-sized for an embedding gradient): ~51 s per step for a small
 * CNN. These replacements are direct accumulation loops.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD, registerReluGradient, reluGradInto } from './relu-grad.js';
import { replaceKernels } from './replace.js';
import type { BackendCpuLike, KernelArgs, TensorInfo, TypedArray } from './types.js';

const BACKEND = 'cpu';

function values(backend: BackendCpuLike, info: TensorInfo): TypedArray {
  return backend.data.get(info.dataId).values as TypedArray;
}

/**
 * dW[(i, j, c), co] = Σ_(b, oh, ow) x[b, ih, iw, c] · dy[b, oh, ow, co], accumulated in float64
 * with the output channel innermost (contiguous in dW and dy); zero inputs (post-ReLU) are skipped.
 */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendCpuLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on cpu supports only NHWC, got '${attrs.dataFormat}'.`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
  } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = info;
  const Cout = info.outChannels;
  const xs = values(backend, x) as Float32Array;
  const g = values(backend, dy) as Float32Array;
  const acc = new Float64Array(FH * FW * C * Cout);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dyOff = ((b * OH + oh) * OW + ow) * Cout;
        for (let i = 0; i < FH; i++) {
          const ih = oh * SH - info.padInfo.top + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < FW; j++) {
            const iw = ow * SW - info.padInfo.left + j;
            if (iw < 0 || iw >= W) continue;
            const xOff = ((b * H + ih) * W + iw) * C;
            const wOff = (i * FW + j) * C * Cout;
            for (let c = 0; c < C; c++) {
              const v = xs[xOff + c]!;
              if (v === 0) continue;
              const row = wOff + c * Cout;
              for (let co = 0; co < Cout; co++) acc[row + co]! += v * g[dyOff + co]!;
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo(attrs.filterShape, 'float32', Float32Array.from(acc));
}

/** out[id] += x[n]; ids outside [0, numSegments) are dropped, as the stock kernel does. */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendCpuLike;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on cpu supports float32 and int32, got ${x.dtype}.`);
  }
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const data = values(backend, x) as Float32Array | Int32Array;
  const ids = values(backend, segmentIds) as Int32Array;
  const out =
    x.dtype === 'int32'
      ? new Int32Array(numSegments * inner)
      : new Float32Array(numSegments * inner);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n]!;
    if (id < 0 || id >= numSegments) continue;
    const dst = id * inner;
    const src = n * inner;
    for (let k = 0; k < inner; k++) out[dst + k]! += data[src + k]!;
  }
  return backend.makeTensorInfo([numSegments, ...innerShape], x.dtype, out);
}

/** dy · step(x) in one pass (see relu-grad.ts). */
function reluGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendCpuLike;
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const out = new Float32Array(tf.util.sizeFromShape(x.shape));
  reluGradInto(values(backend, dy) as Float32Array, values(backend, x) as Float32Array, out);
  return backend.makeTensorInfo(x.shape, 'float32', out);
}

let registered = false;

/**
 * Replaces the cpu backend's `Conv2DBackpropFilter` and `UnsortedSegmentSum` with direct
 * accumulation loops, and gives relu a one-kernel gradient (relu-grad.ts). Idempotent; call it before or after `tf.setBackend('cpu')`.
 */
export function registerCpuTrainingKernels(): void {
  if (registered) return;
  const own: [string, (args: KernelArgs) => TensorInfo][] = [
    ['Conv2DBackpropFilter', conv2DBackpropFilter],
    ['UnsortedSegmentSum', unsortedSegmentSum],
    [RELU_GRAD, reluGrad],
  ];
  replaceKernels(BACKEND, own);
  registerReluGradient();
  registered = true;
}
