/**
 * Writable Float32Array views of TF.js tensors' storage on the cpu and wasm backends, for the fused
 * optimizer loops. TF.js treats tensor storage as immutable, so a buffer is written in place only
 * when this module allocated it and no other tensor holds a reference to it.
 */
import * as tf from '@tensorflow/tfjs';

/** The backends whose storage the fused loops can address directly. */
export type FusedBackend = 'cpu' | 'wasm';

type DataId = object;

/** `MathBackendCPU`'s storage: the Float32Array in `values` is the tensor's data. */
interface CpuStorage {
  data: {
    has(dataId: DataId): boolean;
    get(dataId: DataId): { values?: unknown; refCount: number };
  };
}

/** `BackendWasm`'s storage: the data lives in the wasm heap at `memoryOffset`. */
interface WasmStorage {
  dataIdMap: {
    has(dataId: DataId): boolean;
    get(dataId: DataId): { id: number; memoryOffset: number | null; refCount: number };
  };
  wasm: {
    HEAPU8: Uint8Array;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

/**
 * Buffers this module allocated (keyed by dataId). On cpu a tensor made from a user's Float32Array
 * stores that very array, and a contiguous slice is a subarray of its input: writing in place is
 * only safe in a buffer allocated here.
 */
const owned = new WeakSet<DataId>();

/** The active backend when the fused loops can run on it, else null. */
export function fusedBackend(): FusedBackend | null {
  const name = tf.getBackend();
  return name === 'cpu' || name === 'wasm' ? name : null;
}

function refCount(backend: FusedBackend, dataId: DataId): number {
  const b = tf.backend() as unknown;
  if (backend === 'cpu') {
    const data = (b as CpuStorage).data;
    return data.has(dataId) ? data.get(dataId).refCount : 0;
  }
  const map = (b as WasmStorage).dataIdMap;
  return map.has(dataId) ? map.get(dataId).refCount : 0;
}

/**
 * A view of the float32 storage of `t` on the active backend; null when the data lives elsewhere
 * (on another backend). On wasm the view is invalidated when the heap grows, i.e. by any tensor
 * allocation: take views after allocating.
 */
export function storageView(backend: FusedBackend, t: tf.Tensor): Float32Array | null {
  const b = tf.backend() as unknown;
  if (backend === 'cpu') {
    const data = (b as CpuStorage).data;
    if (!data.has(t.dataId)) return null;
    const values = data.get(t.dataId).values;
    return values instanceof Float32Array && values.length === t.size ? values : null;
  }
  const { dataIdMap, wasm } = b as WasmStorage;
  if (!dataIdMap.has(t.dataId)) return null;
  const offset = dataIdMap.get(t.dataId).memoryOffset;
  if (offset === null) return t.size === 0 ? new Float32Array(0) : null;
  return new Float32Array(wasm.HEAPU8.buffer, offset, t.size);
}

/** A read-only use of `t`'s values: its storage when reachable, else a host copy. */
export function readableValues(backend: FusedBackend, t: tf.Tensor): Float32Array {
  return storageView(backend, t) ?? Float32Array.from(t.dataSync());
}

/**
 * How many times each buffer was written in place through this module (keyed by dataId): a
 * value computed from buffers is still valid while their dataIds and versions are unchanged
 * (TF.js itself never writes a buffer in place; `assign` gives a variable another dataId).
 */
const versions = new WeakMap<DataId, number>();

/** The in-place write count of `t`'s buffer (see `markWritten`). */
export function storageVersion(t: tf.Tensor): number {
  return versions.get(t.dataId) ?? 0;
}

/**
 * Tells the backend that `t`'s storage was written in place, and counts the write. The wasm
 * backend's C++ side caches XNNPACK operators holding packed copies of a tensor's values (the
 * weights of MatMul, Conv2D, PReLU), keyed by tensor id and dropped only when that id is disposed:
 * unregistering and re-registering the id (at its current memory, no free) runs those disposal
 * callbacks. The cpu backend caches nothing.
 */
export function markWritten(backend: FusedBackend, t: tf.Tensor): void {
  versions.set(t.dataId, storageVersion(t) + 1);
  if (backend !== 'wasm') return;
  const { dataIdMap, wasm } = tf.backend() as unknown as WasmStorage;
  const { id, memoryOffset } = dataIdMap.get(t.dataId);
  if (memoryOffset === null) return;
  wasm.tfjs.disposeData(id);
  wasm.tfjs.registerTensor(id, t.size, memoryOffset);
}

/**
 * Exchanges the storage of two tensors of the same size on the active backend, without copying:
 * each keeps its dataId (so its references and reference counts) and takes the other's memory.
 * On wasm the C++ side's tensor id moves with the memory, so what it caches per id (XNNPACK's
 * packed weights) still matches the values and nothing needs re-registering. Both tensors must
 * be private to the caller (see `isPrivate`); both count as written.
 */
export function swapStorage(backend: FusedBackend, x: tf.Tensor, y: tf.Tensor): void {
  if (backend === 'cpu') {
    const data = (tf.backend() as unknown as CpuStorage).data;
    const [dx, dy] = [data.get(x.dataId), data.get(y.dataId)];
    [dx.values, dy.values] = [dy.values, dx.values];
  } else {
    const map = (tf.backend() as unknown as WasmStorage).dataIdMap;
    const [dx, dy] = [map.get(x.dataId), map.get(y.dataId)];
    [dx.memoryOffset, dy.memoryOffset] = [dy.memoryOffset, dx.memoryOffset];
    [dx.id, dy.id] = [dy.id, dx.id];
  }
  for (const t of [x, y]) versions.set(t.dataId, storageVersion(t) + 1);
}

/** True when `v`'s buffer was allocated here and no other tensor references it. */
export function isPrivate(backend: FusedBackend, v: tf.Tensor): boolean {
  return owned.has(v.dataId) && refCount(backend, v.dataId) === 1;
}

/** A new tensor of zeros in a buffer of this module's own, which only the caller references. */
export function privateZeros(shape: readonly number[]): tf.Tensor {
  const t = tf.tensor(new Float32Array(tf.util.sizeFromShape([...shape])), [...shape], 'float32');
  owned.add(t.dataId);
  return t;
}

/** Gives `v` a fresh buffer of its own holding a copy of `values` (on the active backend). */
export function assignCopy(v: tf.Variable, values: Float32Array): void {
  const copy = tf.tensor(Float32Array.from(values), v.shape, 'float32');
  try {
    v.assign(copy);
  } finally {
    copy.dispose();
  }
  owned.add(v.dataId);
}

/**
 * Makes sure `v` has a buffer of its own that it alone references, giving it a private copy when
 * not (the first time, or after the user assigned it, cloned it or read it into another tensor).
 * Allocates only in that case; call before taking views.
 */
export function makePrivate(backend: FusedBackend, v: tf.Variable): void {
  if (!isPrivate(backend, v)) assignCopy(v, v.dataSync() as Float32Array);
}

/** True when every tensor is float32 and can be addressed by the fused loops. */
export function allFloat32(tensors: readonly tf.Tensor[]): boolean {
  return tensors.every((t) => t.dtype === 'float32');
}
