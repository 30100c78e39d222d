/**
 * The small slice of the wasm and cpu backends' internals that the kernels use. The backends'
 * own classes are not exported in a form that type-checks against `@tensorflow/tfjs`'s
 * re-exported core, so the kernels describe what they touch structurally.
 */
import type * as tf from '@tensorflow/tfjs';

export type DataId = object;
export type TensorInfo = tf.TensorInfo;
export type TypedArray = Float32Array | Int32Array | Uint8Array;

/** The argument every kernel function receives. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs: Record<string, unknown>;
}

/** A kernel function, as registered on a backend. */
export type Kernel = (args: KernelArgs) => TensorInfo;

/** An op's kernel and its gradient's. */
export interface KernelPair {
  forward: Kernel;
  gradient: Kernel;
}

/** `BackendWasm` from `@tensorflow/tfjs-backend-wasm` (dist/backend_wasm.d.ts). */
export interface BackendWasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  incRef(dataId: DataId): void;
  typedArrayFromHeap(info: TensorInfo): TypedArray;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** `MathBackendCPU` from `@tensorflow/tfjs-backend-cpu`. */
export interface BackendCpuLike {
  data: { get(dataId: DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: TypedArray): TensorInfo;
}

/**
 * A float32 tensor's memory on the wasm heap. Take views after making every output: growing the
 * wasm memory detaches the earlier ones.
 */
export function heapFloats(backend: BackendWasmLike, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}
