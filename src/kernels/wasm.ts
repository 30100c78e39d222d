/**
 * Training kernels for TF.js's wasm backend.
 *
 * Stock `@tensorflow/tfjs-backend-wasm` 4.22 lacks `Conv2DBackpropFilter` and `UnsortedSegmentSum`
 * (so CNNs and embeddings cannot train), and its `BatchMatMul` / `_FusedMatMul` fall back to a
 * scalar loop whenever `transposeA` / `transposeB` is set (every dense/LSTM backward pass). The
 * kernels here fill those gaps using the backend's own XNNPACK matmul and transpose.
 */
import * as tf from '@tensorflow/tfjs';
import { accelerator } from '../accelerator.js';
import { RELU_GRAD, registerReluGradient, reluGradInto, wasmReluGrad } from './relu-grad.js';
import {
  CAUSAL_SOFTMAX,
  CAUSAL_SOFTMAX_GRAD,
  causalSoftmaxGradRows,
  causalSoftmaxRows,
  wasmCausalSoftmaxKernels,
} from './causal-softmax.js';
import { GELU, GELU_GRAD, geluGradValues, geluValues, wasmGeluKernels } from './gelu.js';
import {
  LAYER_NORM,
  LAYER_NORM_GRAD,
  layerNormGradRows,
  layerNormRows,
  wasmLayerNormKernels,
} from './layer-norm.js';
import { markTransposingMatMul } from './matmul.js';
import { replaceKernels } from './replace.js';
import {
  SPATIAL_MEAN,
  SPATIAL_MEAN_GRAD,
  spatialMeanGradInto,
  spatialMeanInto,
  wasmSpatialMeanKernels,
} from './global-pool.js';
import {
  SUBSAMPLE_PAD,
  SUBSAMPLE_PAD_GRAD,
  subsamplePadGradInto,
  subsamplePadInto,
  wasmSubsamplePadKernels,
} from './shortcut.js';
import { registerNativeWasmKernels } from './wasm-native.js';
import type { BackendWasmLike, DataId, KernelArgs, TensorInfo } from './types.js';

const BACKEND = 'wasm';

/** Largest im2col / col2im scratch matrix, in floats (16 MiB): bigger batches are chunked. */
const MAX_COLS = 1 << 22;

type StockKernel = (args: KernelArgs) => TensorInfo;

/** The backend's own kernels, captured before ours replace them. */
const stock = new Map<string, tf.KernelConfig>();

function wasmBackend(backend: unknown): BackendWasmLike {
  return backend as BackendWasmLike;
}

function stockKernel(kernelName: string): tf.KernelConfig {
  const config = stock.get(kernelName) ?? tf.getKernel(kernelName, BACKEND);
  if (config === undefined) {
    throw new Error(
      `The wasm backend has no '${kernelName}' kernel: import '@tensorflow/tfjs-backend-wasm' ` +
        'before registering the training kernels.',
    );
  }
  return config;
}

function callKernel(config: tf.KernelConfig, args: KernelArgs): TensorInfo {
  return (config.kernelFunc as unknown as StockKernel)(args);
}

function view(backend: BackendWasmLike, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function dispose(backend: BackendWasmLike, ...dataIds: DataId[]): void {
  for (const id of dataIds) backend.disposeData(id);
}

/** Swaps the last two axes through the backend's own (fast) Transpose kernel. */
function transposeLastTwo(
  backend: BackendWasmLike,
  transposeKernel: tf.KernelConfig,
  x: TensorInfo,
): TensorInfo {
  const rank = x.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return callKernel(transposeKernel, { inputs: { x }, backend, attrs: { perm } });
}

/**
 * The stock matmul kernel, called after explicit transposes: XNNPACK only handles the untransposed
 * case, and a transpose is memory-bound and cheap next to the scalar loop it avoids.
 */
/**
 * The stock `_FusedMatMul` gives wrong results (with a bias, at least) when the batch is larger than 1
 * (off by O(1) against the unfused ops), so such products run one batch item at a time. tfjs-layers only issues rank-2
 * products, so this path is rare.
 */
function fusedMatMulPerItem(args: KernelArgs, matMul: tf.KernelConfig): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const batch = Math.max(a.shape[0]!, b.shape[0]!);
  const [, m, k] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const out = backend.makeOutput([batch, m, n], 'float32');
  for (let i = 0; i < batch; i++) {
    // Fresh tensors per item: XNNPACK's packed-weight cache is keyed by the tensor id.
    const aItem = backend.makeOutput([1, m, k], 'float32');
    const bItem = backend.makeOutput([1, k, n], 'float32');
    const ia = a.shape[0] === 1 ? 0 : i;
    const ib = b.shape[0] === 1 ? 0 : i;
    view(backend, aItem).set(view(backend, a).subarray(ia * m * k, (ia + 1) * m * k));
    view(backend, bItem).set(view(backend, b).subarray(ib * k * n, (ib + 1) * k * n));
    const part = callKernel(matMul, { ...args, inputs: { ...args.inputs, a: aItem, b: bItem } });
    view(backend, out).set(view(backend, part), i * m * n);
    dispose(backend, part.dataId, aItem.dataId, bItem.dataId);
  }
  return out;
}

function matMulWrapper(kernelName: string): (args: KernelArgs) => TensorInfo {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const matMul = stockKernel(kernelName);
    const { a: a0, b: b0 } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const perItem = kernelName === '_FusedMatMul' && Math.max(a0.shape[0]!, b0.shape[0]!) > 1;
    const run = (runArgs: KernelArgs): TensorInfo =>
      perItem ? fusedMatMulPerItem(runArgs, matMul) : callKernel(matMul, runArgs);
    if (!transposeA && !transposeB) return run(args);
    const backend = wasmBackend(args.backend);
    const transpose = stockKernel('Transpose');
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const aT = transposeA ? transposeLastTwo(backend, transpose, a) : a;
    const bT = transposeB ? transposeLastTwo(backend, transpose, b) : b;
    try {
      return run({
        inputs: { ...args.inputs, a: aT, b: bT },
        backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      if (transposeA) dispose(backend, aT.dataId);
      if (transposeB) dispose(backend, bT.dataId);
    }
  };
}

interface Conv2DGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function convInfoFor(
  xShape: number[],
  filterShape: number[],
  attrs: Conv2DGradAttrs,
  kernelName: string,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports only NHWC, got '${attrs.dataFormat}'.`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** Batch items per chunk so that a [rows, fh·fw·Cin] patch matrix stays under MAX_COLS floats. */
function batchChunk(info: tf.backend_util.Conv2DInfo): number {
  const perItem = info.outHeight * info.outWidth * info.filterHeight * info.filterWidth;
  return Math.max(1, Math.min(info.batchSize, Math.floor(MAX_COLS / (perItem * info.inChannels))));
}

/**
 * Transposed im2col for batch items [b0, b1): row k = (i, j, c) of the [fh·fw·Cin, N] result holds
 * input channel c under filter tap (i, j) for every output position n = (b, oh, ow), zero where the
 * tap hangs over the padding. Writing it transposed directly is several times faster than the
 * backend's Transpose on the [N, K] layout, and the rows read strided runs that stay in L1.
 */
function im2colT(
  x: Float32Array,
  colsT: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  b0: number,
  b1: number,
): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const N = (b1 - b0) * OH * OW;
  const step = SW * C;
  for (let j = 0; j < FW; j++) {
    // Output columns whose tap j lands inside the input: 0 <= ow·SW − left + j < W.
    const ow0 = Math.min(OW, Math.max(0, Math.ceil((left - j) / SW)));
    const ow1 = Math.max(ow0, Math.min(OW, Math.ceil((W + left - j) / SW)));
    for (let b = b0; b < b1; b++) {
      const xBatch = b * H * W * C;
      for (let oh = 0; oh < OH; oh++) {
        const n0 = ((b - b0) * OH + oh) * OW;
        for (let i = 0; i < FH; i++) {
          const ih = oh * SH - top + i;
          const inside = ih >= 0 && ih < H;
          for (let c = 0; c < C; c++) {
            const row = ((i * FW + j) * C + c) * N + n0;
            if (!inside) {
              colsT.fill(0, row, row + OW);
              continue;
            }
            if (ow0 > 0) colsT.fill(0, row, row + ow0);
            let src = xBatch + (ih * W + ow0 * SW - left + j) * C + c;
            for (let ow = ow0; ow < ow1; ow++, src += step) colsT[row + ow] = x[src]!;
            if (ow1 < OW) colsT.fill(0, row + ow1, row + OW);
          }
        }
      }
    }
  }
}

/**
 * dW[k, co] = Σ_n colsᵀ[k, n] · dy[n, co]: one XNNPACK matmul per batch chunk whose result is
 * already the [fh, fw, Cin, Cout] filter layout.
 */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DGradAttrs & { filterShape: number[] };
  const info = convInfoFor(x.shape, attrs.filterShape, attrs, 'Conv2DBackpropFilter');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error('Conv2DBackpropFilter on wasm supports only float32 tensors.');
  }
  const matMul = stockKernel('BatchMatMul');
  const Cout = info.outChannels;
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const rowsPerItem = info.outHeight * info.outWidth;
  if (info.batchSize * rowsPerItem === 0) {
    const zeros = backend.makeOutput(attrs.filterShape, 'float32');
    view(backend, zeros).fill(0);
    return zeros;
  }
  const chunk = batchChunk(info);
  let out: TensorInfo | undefined;
  for (let b0 = 0; b0 < info.batchSize; b0 += chunk) {
    const b1 = Math.min(info.batchSize, b0 + chunk);
    const N = (b1 - b0) * rowsPerItem;
    const colsT = backend.makeOutput([K, N], 'float32');
    const dyPart = b1 - b0 === info.batchSize ? dy : backend.makeOutput([N, Cout], 'float32');
    // Views only after every allocation: growing the wasm heap detaches earlier views.
    im2colT(view(backend, x), view(backend, colsT), info, b0, b1);
    if (dyPart !== dy) {
      const start = b0 * rowsPerItem * Cout;
      view(backend, dyPart).set(view(backend, dy).subarray(start, start + N * Cout));
    }
    const prod = callKernel(matMul, {
      inputs: { a: colsT, b: { dataId: dyPart.dataId, shape: [N, Cout], dtype: 'float32' } },
      backend,
      attrs: { transposeA: false, transposeB: false },
    });
    dispose(backend, colsT.dataId);
    if (dyPart !== dy) dispose(backend, dyPart.dataId);
    if (out === undefined) {
      out = prod;
    } else {
      const total = view(backend, out);
      const part = view(backend, prod);
      for (let k = 0; k < total.length; k++) total[k]! += part[k]!;
      dispose(backend, prod.dataId);
    }
  }
  if (out === undefined) throw new Error('unreachable: Conv2DBackpropFilter ran no batch chunk');
  return { dataId: out.dataId, shape: attrs.filterShape, dtype: 'float32' };
}

/**
 * dx = col2im(dy[N, Cout] × Wᵀ[Cout, K]): the patch gradients come from one XNNPACK matmul, then
 * each row is added back under the filter's footprint (the adjoint of im2col).
 */
function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DGradAttrs & { inputShape: number[] };
  const info = convInfoFor(attrs.inputShape, filter.shape, attrs, 'Conv2DBackpropInput');
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error('Conv2DBackpropInput on wasm supports only float32 tensors.');
  }
  const matMul = stockKernel('BatchMatMul');
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const Cout = info.outChannels;
  const K = FH * FW * C;
  const rowsPerItem = OH * OW;
  const wT = backend.makeOutput([Cout, K], 'float32');
  {
    const w = view(backend, filter);
    const t = view(backend, wT);
    for (let k = 0; k < K; k++) {
      for (let co = 0; co < Cout; co++) t[co * K + k] = w[k * Cout + co]!;
    }
  }
  const out = backend.makeOutput(attrs.inputShape, 'float32');
  view(backend, out).fill(0);
  const chunk = batchChunk(info);
  for (let b0 = 0; b0 < info.batchSize; b0 += chunk) {
    const b1 = Math.min(info.batchSize, b0 + chunk);
    const N = (b1 - b0) * rowsPerItem;
    let dyPart: TensorInfo = dy;
    if (b1 - b0 !== info.batchSize) {
      dyPart = backend.makeOutput([N, Cout], 'float32');
      const start = b0 * rowsPerItem * Cout;
      view(backend, dyPart).set(view(backend, dy).subarray(start, start + N * Cout));
    }
    const dy2d: TensorInfo = { dataId: dyPart.dataId, shape: [N, Cout], dtype: 'float32' };
    const cols = callKernel(matMul, {
      inputs: { a: dy2d, b: wT },
      backend,
      attrs: { transposeA: false, transposeB: false },
    });
    const c = view(backend, cols);
    const dx = view(backend, out);
    let src = 0;
    for (let b = b0; b < b1; b++) {
      const xBatch = b * H * W * C;
      for (let oh = 0; oh < OH; oh++) {
        const ih0 = oh * SH - top;
        for (let ow = 0; ow < OW; ow++) {
          const iw0 = ow * SW - left;
          const j0 = Math.max(0, -iw0);
          const j1 = Math.min(FW, W - iw0);
          if (j1 > j0) {
            const len = (j1 - j0) * C;
            for (let i = 0; i < FH; i++) {
              const ih = ih0 + i;
              if (ih < 0 || ih >= H) continue;
              const dst = xBatch + (ih * W + iw0 + j0) * C;
              const from = src + (i * FW + j0) * C;
              for (let k = 0; k < len; k++) dx[dst + k]! += c[from + k]!;
            }
          }
          src += K;
        }
      }
    }
    dispose(backend, cols.dataId);
    if (dyPart !== dy) dispose(backend, dyPart.dataId);
  }
  dispose(backend, wT.dataId);
  return out;
}

/**
 * out[id] += x[n] for each leading index n; ids outside [0, numSegments) are dropped, as TensorFlow
 * and the cpu backend do.
 */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, got ${x.dtype}.`);
  }
  const idsRank = segmentIds.shape.length;
  const innerShape = x.shape.slice(idsRank);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const data = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  o.fill(0);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n]!;
    if (id < 0 || id >= numSegments) continue;
    const dst = id * inner;
    const src = n * inner;
    for (let k = 0; k < inner; k++) o[dst + k]! += data[src + k]!;
  }
  return out;
}

/**
 * Tile by block copies: each axis writes its input-sized block once, then repeats it with
 * `copyWithin` (a memcpy). The stock wasm Tile computes an index per element and was the largest
 * kernel in a batch-norm CNN's backward pass (the batch-norm gradient tiles the inverse std).
 */
function tile(args: KernelArgs): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as { reps: number[] };
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') {
    return callKernel(stockKernel('Tile'), args);
  }
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]!);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (rank === 0) {
    dst[0] = src[0]!;
    return out;
  }
  const xStrides = new Array<number>(rank);
  const outStrides = new Array<number>(rank);
  xStrides[rank - 1] = 1;
  outStrides[rank - 1] = 1;
  for (let a = rank - 2; a >= 0; a--) {
    xStrides[a] = xStrides[a + 1]! * x.shape[a + 1]!;
    outStrides[a] = outStrides[a + 1]! * outShape[a + 1]!;
  }
  const fill = (axis: number, xOff: number, oOff: number): void => {
    const n = x.shape[axis]!;
    if (axis === rank - 1) {
      for (let k = 0; k < n; k++) dst[oOff + k] = src[xOff + k]!;
    } else {
      for (let k = 0; k < n; k++) {
        fill(axis + 1, xOff + k * xStrides[axis]!, oOff + k * outStrides[axis]!);
      }
    }
    const block = n * outStrides[axis]!;
    for (let r = 1; r < reps[axis]!; r++) dst.copyWithin(oOff + r * block, oOff, oOff + block);
  };
  fill(0, 0, 0);
  return out;
}

/**
 * Identity that shares its input's buffer (one more reference), as the cpu backend's Identity and
 * wasm's own Reshape do, instead of copying it. The gradient tape clones every tensor it saves
 * for the backward pass, so the stock copy cost a pass over each saved activation and weight:
 * 7% of a ResNet step. Safe because TF.js never writes a buffer in place (and the fused
 * optimizer steps write only buffers nothing else references).
 */
function identity(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callKernel(stockKernel('Identity'), args);
  wasmBackend(args.backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Slice reading its input through a view of the heap. The stock kernel starts with `readSync`,
 * which copies the whole input out of the heap before copying the slice: a ResNet's strided
 * shortcut and its gradient spent 5% of a step there. Rows along the last axis are copied whole.
 */
function slice(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callKernel(stockKernel('Slice'), args);
  const backend = wasmBackend(args.backend);
  const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
  const [start, extent] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    begin,
    size,
  ) as [number[], number[]];
  const out = backend.makeOutput(extent, x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const total = tf.util.sizeFromShape(extent);
  if (total === 0) return out;
  const strides = tf.util.computeStrides(x.shape);
  const rank = x.shape.length;
  if (rank === 0 || tf.slice_util.isSliceContinous(x.shape, start, extent)) {
    const offset = tf.slice_util.computeFlatOffset(start, strides);
    dst.set(src.subarray(offset, offset + total));
    return out;
  }
  // An odometer over every axis but the last: each step copies one contiguous row.
  const row = extent[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  let from = tf.slice_util.computeFlatOffset(start, strides);
  for (let to = 0; to < total; to += row) {
    // Short rows element by element: a subarray per row costs more than the copy.
    if (row < 64) for (let k = 0; k < row; k++) dst[to + k] = src[from + k]!;
    else dst.set(src.subarray(from, from + row), to);
    for (let axis = rank - 2; axis >= 0; axis--) {
      from += strides[axis]!;
      if (++index[axis]! < extent[axis]!) break;
      from -= index[axis]! * strides[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

/**
 * Unpack (`tf.unstack`) as one of the Slices above per output. The stock kernel calls the stock
 * Slice, which copies the whole input out of the heap for every output: unstacking an LSTM's 35
 * time steps copied the whole sequence 35 times (44 ms for [20, 35, 512]).
 */
function unpack(args: KernelArgs): TensorInfo[] {
  const { value } = args.inputs as { value: TensorInfo };
  if (value.dtype === 'string') {
    return callKernel(stockKernel('Unpack'), args) as unknown as TensorInfo[];
  }
  const rank = value.shape.length;
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, value.shape)[0]!;
  const outShape = value.shape.filter((_, a) => a !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  return Array.from({ length: value.shape[axis]! }, (_, i) => {
    begin[axis] = i;
    const part = slice({ inputs: { x: value }, backend: args.backend, attrs: { begin, size } });
    return { dataId: part.dataId, dtype: part.dtype, shape: outShape };
  });
}

/**
 * Max-pool gradient: each output cell's gradient goes to the first maximum of its window (as the
 * cpu backend and TensorFlow pick it), with the channel loop innermost so reads stay contiguous.
 * The stock wasm kernel took as long as both convolution gradients together in a small CNN.
 */
function maxPoolGrad(args: KernelArgs): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (input.dtype !== 'float32' || dy.dtype !== 'float32')
    return callKernel(stockKernel('MaxPoolGrad'), args);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
  } = info;
  const out = backend.makeOutput(input.shape, 'float32');
  const dx = view(backend, out);
  const x = view(backend, input);
  const g = view(backend, dy);
  dx.fill(0);
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  let dyOff = 0;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const hStart = oh * info.strideHeight - info.padInfo.top;
      const h0 = Math.max(0, hStart);
      const h1 = Math.min(H, hStart + info.filterHeight);
      for (let ow = 0; ow < OW; ow++, dyOff += C) {
        const wStart = ow * info.strideWidth - info.padInfo.left;
        const w0 = Math.max(0, wStart);
        const w1 = Math.min(W, wStart + info.filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const base = ((b * H + h) * W + w) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c]!;
              // NaN never wins, and the first of equal maxima is kept.
              if (v > best[c]! || (where[c] === -1 && v === -Infinity)) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        for (let c = 0; c < C; c++) {
          const at = where[c]!;
          if (at >= 0) dx[at]! += g[dyOff + c]!;
        }
      }
    }
  }
  return out;
}

let registered = false;

/**
 * Registers the training kernels on the wasm backend: `Conv2DBackpropFilter`,
 * `Conv2DBackpropInput` (im2col + XNNPACK, 2–8× faster than the stock direct loop),
 * `UnsortedSegmentSum`, `Tile` and `MaxPoolGrad` (the stock ones were 3–90× slower), an
 * `Identity` that shares its input's buffer instead of copying it, a `Slice` that reads its input
 * in place (and an `Unpack` made of it), the kernels of the fused ops (relu's gradient, layer norm,
 * causal softmax, GELU, the ResNet shortcut, global average pooling), and
 * transpose-first wrappers around `BatchMatMul` and `_FusedMatMul`; with the native addon loaded,
 * native matmul and convolution kernels on top (see wasm-native.ts). Idempotent. Call it after importing `@tensorflow/tfjs-backend-wasm`, before or
 * after `tf.setBackend('wasm')`.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const name of ['BatchMatMul', '_FusedMatMul', 'Transpose', 'Identity', 'Slice', 'Unpack'])
    stock.set(name, stockKernel(name));
  const batchMatMul = matMulWrapper('BatchMatMul');
  markTransposingMatMul(batchMatMul);
  const layerNorm = wasmLayerNormKernels(layerNormRows, layerNormGradRows);
  const causalSoftmax = wasmCausalSoftmaxKernels(causalSoftmaxRows, causalSoftmaxGradRows);
  const gelu = wasmGeluKernels(geluValues, geluGradValues);
  const shortcut = wasmSubsamplePadKernels(subsamplePadInto, subsamplePadGradInto);
  const spatialMean = wasmSpatialMeanKernels(spatialMeanInto, spatialMeanGradInto);
  const own: [string, (args: KernelArgs) => TensorInfo][] = [
    ['BatchMatMul', batchMatMul],
    ['_FusedMatMul', matMulWrapper('_FusedMatMul')],
    ['Conv2DBackpropFilter', conv2DBackpropFilter],
    ['Conv2DBackpropInput', conv2DBackpropInput],
    ['UnsortedSegmentSum', unsortedSegmentSum],
    ['Tile', tile],
    ['MaxPoolGrad', maxPoolGrad],
    ['Identity', identity],
    ['Slice', slice],
    ['Unpack', unpack as unknown as (args: KernelArgs) => TensorInfo],
    [RELU_GRAD, wasmReluGrad(reluGradInto)],
    [LAYER_NORM, layerNorm.forward],
    [LAYER_NORM_GRAD, layerNorm.gradient],
    [CAUSAL_SOFTMAX, causalSoftmax.forward],
    [CAUSAL_SOFTMAX_GRAD, causalSoftmax.gradient],
    [GELU, gelu.forward],
    [GELU_GRAD, gelu.gradient],
    [SUBSAMPLE_PAD, shortcut.forward],
    [SUBSAMPLE_PAD_GRAD, shortcut.gradient],
    [SPATIAL_MEAN, spatialMean.forward],
    [SPATIAL_MEAN_GRAD, spatialMean.gradient],
  ];
  replaceKernels(BACKEND, own, (name, previous) => {
    if (!stock.has(name)) stock.set(name, previous);
  });
  // With the native addon, matmuls and convolutions move to OpenBLAS on all cores; the kernels
  // above stay as their fallback for the cases the addon does not cover.
  const native = accelerator();
  if (native) registerNativeWasmKernels(native);
  registerReluGradient();
  registered = true;
}
