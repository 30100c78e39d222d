import type * as tf from '@tensorflow/tfjs';
import type { UpdateContext } from '../../rules/types.js';
import {
  allFloat32,
  assignCopy,
  fusedBackend,
  isPrivate,
  markWritten,
  makePrivate,
  readableValues,
  storageView,
  type FusedBackend,
} from './storage.js';
import type { FusedRuleKernel } from './types.js';

/** The fused loops bound to the backend of one step (what the optimizer's base class calls). */
export interface FusedStep {
  predict(
    v: tf.Variable,
    slots: readonly tf.Variable[],
    completed: number,
    a: number,
    b: number,
  ): void;
  update(
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
  ): void;
  sumOfSquares(grads: readonly tf.Tensor[]): number;
  restore(): void;
}

/**
 * The fused path of an optimizer step on the cpu and wasm backends: a rule's loops run directly on
 * the variables' and state slots' storage, in place.
 *
 * Weight prediction keeps θ_t in a Float32Array per variable, allocated once and reused by every
 * step (never part of the optimizer's saved state). `predict` copies θ_t there and writes θ̂ into
 * the variable in the same pass; `update` reads θ_t back from the cache and writes θ_{t+1} into
 * the variable, which restores and updates in one pass. Until `update` or `restore` has run for a
 * predicted variable, its cache holds the only copy of θ_t.
 */
export class FusedSteps {
  private readonly caches = new Map<string, Float32Array>();
  /** Variables whose storage holds θ̂ and whose cache holds θ_t. */
  private readonly pending = new Map<string, tf.Variable>();

  constructor(private readonly kernel: FusedRuleKernel) {}

  /**
   * The fused loops for one step over `variables`, or null when they cannot run: the active
   * backend is not cpu or wasm, or a variable is not float32.
   */
  stepOn(variables: readonly tf.Variable[]): FusedStep | null {
    const backend = fusedBackend();
    if (backend === null || !allFloat32(variables)) return null;
    return {
      predict: (v, slots, completed, a, b) => this.predict(backend, v, slots, completed, a, b),
      update: (v, grad, scale, slots, ctx) => this.update(backend, v, grad, scale, slots, ctx),
      sumOfSquares: (grads) => this.sumOfSquares(backend, grads),
      restore: () => this.restore(),
    };
  }

  /** Writes θ̂ = a·θ − b·Δθ into `v`, keeping θ_t in its cache. */
  private predict(
    backend: FusedBackend,
    v: tf.Variable,
    slots: readonly tf.Variable[],
    completed: number,
    a: number,
    b: number,
  ): void {
    if (this.pending.has(v.name)) {
      throw new Error(`internal: ${v.name} is predicted twice without an update or a restore`);
    }
    const state = this.writableViews(backend, v, slots);
    const theta = state.shift()!;
    this.kernel.predict(theta, this.cacheFor(v), state, completed, a, b);
    markWritten(backend, v);
    this.pending.set(v.name, v);
  }

  /** One update of `v` with gradient `scale`·g; from θ_t in the cache when `v` holds θ̂. */
  private update(
    backend: FusedBackend,
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
  ): void {
    const state = this.writableViews(backend, v, slots);
    const theta = state.shift()!;
    // A gradient is only read; a host copy is taken when it lives on another backend.
    const g = readableValues(backend, grad);
    const cached = this.pending.has(v.name) ? this.caches.get(v.name)! : theta;
    this.kernel.update(cached, theta, g, scale, state, ctx);
    for (const t of [v, ...slots]) markWritten(backend, t);
    this.pending.delete(v.name);
  }

  /**
   * Puts θ_t back, bit for bit, into every variable still holding θ̂ (the gradient threw, or the
   * update was skipped or failed). Does nothing when every update ran.
   */
  restore(): void {
    const backend = fusedBackend();
    for (const [name, v] of this.pending) {
      if (v.isDisposed) continue;
      const cache = this.caches.get(name)!;
      // In place when the buffer is still private; after anything else (a reference taken in the
      // loss function, another backend) a fresh buffer, so no other tensor sees the write.
      const view = backend && isPrivate(backend, v) ? storageView(backend, v) : null;
      if (backend && view) {
        view.set(cache);
        markWritten(backend, v);
      } else {
        assignCopy(v, cache);
      }
    }
    this.pending.clear();
  }

  /** Σg² over the gradients, accumulated in float64 (cannot overflow for float32 inputs). */
  private sumOfSquares(backend: FusedBackend, grads: readonly tf.Tensor[]): number {
    let sum = 0;
    for (const grad of grads) sum += sumOfSquares(readableValues(backend, grad));
    return sum;
  }

  /** θ_t cache of a variable (for tests); undefined before its first prediction. */
  cacheOf(variableName: string): Float32Array | undefined {
    return this.caches.get(variableName);
  }

  dispose(): void {
    this.restore();
    this.caches.clear();
  }

  private cacheFor(v: tf.Variable): Float32Array {
    let cache = this.caches.get(v.name);
    if (cache?.length !== v.size) {
      cache = new Float32Array(v.size);
      this.caches.set(v.name, cache);
    }
    return cache;
  }

  /** Views of `v` and its slots, each made private first (views last: wasm's heap may grow). */
  private writableViews(
    backend: FusedBackend,
    v: tf.Variable,
    slots: readonly tf.Variable[],
  ): Float32Array[] {
    makePrivate(backend, v);
    for (const s of slots) makePrivate(backend, s);
    return [v, ...slots].map((t) => {
      const view = storageView(backend, t);
      if (!view) throw new Error(`internal: no ${backend} storage for ${t.name} after a copy`);
      return view;
    });
  }
}

/** Σx² with four independent sums, so the additions do not wait on each other. */
function sumOfSquares(x: Float32Array): number {
  const n = x.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = x[i]!;
    const b = x[i + 1]!;
    const c = x[i + 2]!;
    const d = x[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) s0 += x[i]! * x[i]!;
  return s0 + s1 + (s2 + s3);
}
