/**
 * Writable Float32Array views of TF.js tensors' storage on the cpu and wasm backends, for the fused
 * optimizer loops. TF.js treats tensor storage as immutable, so a buffer is written in place only
 * when this module allocated it and no other tensor holds a reference to it.
 *
 * Each function looks a tensor's record up once (the backends' own `has` + `get` take three
 * lookups): these run between large kernels that have pushed the maps out of cache, where each
 * lookup is a memory access.
 */
import * as tf from '@tensorflow/tfjs';

/** The backends whose storage the fused loops can address directly. */
export type FusedBackend = 'cpu' | 'wasm';

type DataId = object;

/**
 * tfjs-core's `DataStorage`: its `get` moves data from another backend when the id is missing
 * here, so records are read from the WeakMap `data` behind it, which only answers.
 */
interface DataStorage<R> {
  data: WeakMap<DataId, R>;
}

/** `MathBackendCPU`'s record: the Float32Array in `values` is the tensor's data. */
interface CpuRecord {
  values?: unknown;
  refCount: number;
}

/** `BackendWasm`'s record: the data lives in the wasm heap at `memoryOffset`. */
interface WasmRecord {
  id: number;
  memoryOffset: number | null;
  refCount: number;
}

interface CpuBackend {
  data: DataStorage<CpuRecord>;
}

interface WasmBackend {
  dataIdMap: DataStorage<WasmRecord>;
  wasm: {
    HEAPU8: Uint8Array;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

/**
 * Buffers this module allocated (keyed by dataId), with their in-place write counts. On cpu a
 * tensor made from a user's Float32Array stores that very array, and a contiguous slice is a
 * subarray of its input: writing in place is only safe in a buffer allocated here. A value
 * computed from buffers is still valid while their dataIds and write counts are unchanged (TF.js
 * itself never writes a buffer in place; `assign` gives a variable another dataId).
 */
const owned = new WeakMap<DataId, { writes: number }>();

/** The active backend when the fused loops can run on it, else null. */
export function fusedBackend(): FusedBackend | null {
  const name = tf.getBackend();
  return name === 'cpu' || name === 'wasm' ? name : null;
}

function cpuRecord(t: tf.Tensor): CpuRecord | undefined {
  return (tf.backend() as unknown as CpuBackend).data.data.get(t.dataId);
}

function wasmBackend(): WasmBackend {
  return tf.backend() as unknown as WasmBackend;
}

/**
 * A view of the float32 storage of `t` on the active backend; null when the data lives elsewhere
 * (on another backend). On wasm the view is invalidated when the heap grows, i.e. by any tensor
 * allocation: take views after allocating.
 */
export function storageView(backend: FusedBackend, t: tf.Tensor): Float32Array | null {
  if (backend === 'cpu') {
    const values = cpuRecord(t)?.values;
    return values instanceof Float32Array && values.length === t.size ? values : null;
  }
  const { dataIdMap, wasm } = wasmBackend();
  const offset = dataIdMap.data.get(t.dataId)?.memoryOffset;
  if (offset === undefined) return null;
  if (offset === null) return t.size === 0 ? new Float32Array(0) : null;
  return new Float32Array(wasm.HEAPU8.buffer, offset, t.size);
}

/** True when `storageView` would give a view of `t`'s storage (without making one). */
export function hasStorage(backend: FusedBackend, t: tf.Tensor): boolean {
  if (backend === 'cpu') {
    const values = cpuRecord(t)?.values;
    return values instanceof Float32Array && values.length === t.size;
  }
  const offset = wasmBackend().dataIdMap.data.get(t.dataId)?.memoryOffset;
  return offset !== undefined && (offset !== null || t.size === 0);
}

/** A read-only use of `t`'s values: its storage when reachable, else a host copy. */
export function readableValues(backend: FusedBackend, t: tf.Tensor): Float32Array {
  return storageView(backend, t) ?? Float32Array.from(t.dataSync());
}

/** The in-place write count of `t`'s buffer (see `markWritten`). */
export function storageVersion(t: tf.Tensor): number {
  return owned.get(t.dataId)?.writes ?? 0;
}

/**
 * Tells the backend that `t`'s storage (a buffer of this module's) was written in place, and
 * counts the write. The wasm backend's C++ side caches XNNPACK operators holding packed copies of
 * a tensor's values (the weights of MatMul, Conv2D, PReLU), keyed by tensor id and dropped only
 * when that id is disposed: unregistering and re-registering the id (at its current memory, no
 * free) runs those disposal callbacks. The cpu backend caches nothing.
 */
export function markWritten(backend: FusedBackend, t: tf.Tensor): void {
  const buffer = owned.get(t.dataId);
  if (buffer) buffer.writes++;
  if (backend !== 'wasm') return;
  const { dataIdMap, wasm } = wasmBackend();
  const record = dataIdMap.data.get(t.dataId);
  if (!record || record.memoryOffset === null) return;
  wasm.tfjs.disposeData(record.id);
  wasm.tfjs.registerTensor(record.id, t.size, record.memoryOffset);
}

/**
 * Exchanges the storage of two tensors of the same size on the active backend, without copying:
 * each keeps its dataId (so its references and reference counts) and takes the other's memory.
 * On wasm the C++ side's tensor id moves with the memory, so what it caches per id (XNNPACK's
 * packed weights) still matches the values and nothing needs re-registering. Both tensors must
 * be private to the caller (see `isPrivate`). Not counted as a write (`storageVersion`): the
 * caller exchanges them back, or writes one and calls `markWritten`.
 */
export function swapStorage(backend: FusedBackend, x: tf.Tensor, y: tf.Tensor): void {
  if (backend === 'cpu') {
    const data = (tf.backend() as unknown as CpuBackend).data.data;
    const dx = data.get(x.dataId)!;
    const dy = data.get(y.dataId)!;
    const values = dx.values;
    dx.values = dy.values;
    dy.values = values;
    return;
  }
  const data = wasmBackend().dataIdMap.data;
  const dx = data.get(x.dataId)!;
  const dy = data.get(y.dataId)!;
  const { id, memoryOffset } = dx;
  dx.id = dy.id;
  dx.memoryOffset = dy.memoryOffset;
  dy.id = id;
  dy.memoryOffset = memoryOffset;
}

function refCount(backend: FusedBackend, t: tf.Tensor): number {
  const record = backend === 'cpu' ? cpuRecord(t) : wasmBackend().dataIdMap.data.get(t.dataId);
  return record?.refCount ?? 0;
}

/**
 * True when `from`'s buffer can be handed to `to` by `swapStorage` and written there: on wasm,
 * where a buffer belongs to one dataId (on cpu a tensor's array may be a view into another's, as
 * a contiguous slice is), float32 of `to`'s size, in the heap, and referenced by `from` alone.
 * The caller must own `from` (it is about to dispose it, say) since `from` is left holding `to`'s
 * old buffer.
 */
export function canTakeBuffer(backend: FusedBackend, from: tf.Tensor, to: tf.Tensor): boolean {
  if (backend !== 'wasm' || from.dtype !== 'float32' || from.size !== to.size) return false;
  const record = wasmBackend().dataIdMap.data.get(from.dataId);
  return record !== undefined && record.refCount === 1 && record.memoryOffset !== null;
}

/** True when `v`'s buffer was allocated here and no other tensor references it. */
export function isPrivate(backend: FusedBackend, v: tf.Tensor): boolean {
  return owned.has(v.dataId) && refCount(backend, v) === 1;
}

/** A new tensor of zeros in a buffer of this module's own, which only the caller references. */
export function privateZeros(shape: readonly number[]): tf.Tensor {
  const t = tf.tensor(new Float32Array(tf.util.sizeFromShape([...shape])), [...shape], 'float32');
  owned.set(t.dataId, { writes: 0 });
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
  owned.set(v.dataId, { writes: 0 });
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
