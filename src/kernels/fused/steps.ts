import * as tf from '@tensorflow/tfjs';
import type { UpdateContext } from '../../rules/types.js';
import { nativeKernels } from '../native.js';
import {
  allFloat32,
  assignCopy,
  fusedBackend,
  isPrivate,
  makePrivate,
  markWritten,
  privateZeros,
  readableValues,
  storageVersion,
  storageView,
  swapStorage,
  type FusedBackend,
} from './storage.js';
import type { FusedRuleKernel, PredictionScalars } from './types.js';

/** The fused loops bound to the backend of one step (what the optimizer's base class calls). */
export interface FusedStep {
  /** Puts θ̂ (where `p` points) in `v`, keeping θ_t aside until `update` or `restore`. */
  predict(v: tf.Variable, slots: readonly tf.Variable[], p: PredictionScalars): void;
  /**
   * One update of `v` from θ_t with gradient `scale`·g; with `next`, it also prepares the next
   * step's θ̂ in the same pass.
   */
  update(
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
    next?: PredictionScalars,
  ): void;
  sumOfSquares(grads: readonly tf.Tensor[]): number;
  restore(): void;
}

/** What a variable's spare buffer holds: θ̂ for these inputs, as they were when it was written. */
interface Prepared {
  prediction: PredictionScalars;
  /** [dataId, in-place write count] of θ, then of each state slot, then of the spare buffer. */
  inputs: [object, number][];
}

/**
 * The fused path of an optimizer step on the cpu and wasm backends: a rule's loops run directly on
 * the variables' and state slots' storage, in place.
 *
 * Weight prediction gives each variable one spare buffer of its size on the backend, allocated
 * once and never part of the optimizer's saved state. The update that makes θ_t also writes θ̂ for
 * the next step into the spare buffer, in the same pass (4 more bytes per weight). `predict` then
 * only exchanges the two buffers' memory (the variable keeps its dataId): the variable holds θ̂
 * and the spare θ_t, with no pass over the weights. `update` exchanges them back first, so it
 * runs in place on θ_t. When anything changed since the spare was written (the weights were
 * assigned, the state was loaded, the learning rate or the step count differ, another step wrote
 * them), `predict` computes θ̂ into the spare with a pass of its own first, so every step predicts
 * from the current θ_t and state either way, bit for bit. Until `update` or `restore` has run for
 * a predicted variable, its spare buffer holds the only copy of θ_t.
 */
export class FusedSteps {
  private readonly spares = new Map<string, tf.Tensor>();
  private readonly prepared = new Map<string, Prepared>();
  /** Variables whose storage holds θ̂ and whose spare buffer holds θ_t. */
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
      predict: (v, slots, p) => this.predict(backend, v, slots, p),
      update: (v, grad, scale, slots, ctx, next) =>
        this.update(backend, v, grad, scale, slots, ctx, next),
      sumOfSquares: (grads) => sumOfSquares(backend, grads),
      restore: () => this.restore(),
    };
  }

  private predict(
    backend: FusedBackend,
    v: tf.Variable,
    slots: readonly tf.Variable[],
    p: PredictionScalars,
  ): void {
    if (this.pending.has(v.name)) {
      throw new Error(`internal: ${v.name} is predicted twice without an update or a restore`);
    }
    // Every allocation before any view: a wasm allocation may grow the heap and detach views.
    makePrivate(backend, v);
    const spare = this.spareFor(backend, v);
    if (!this.isPrepared(v, slots, spare, p)) {
      const [theta, predicted, ...state] = views(backend, [v, spare, ...slots]);
      this.kernel.predict(theta!, predicted!, state, p);
    }
    swapStorage(backend, v, spare);
    this.prepared.delete(v.name);
    this.pending.set(v.name, v);
  }

  private update(
    backend: FusedBackend,
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
    next: PredictionScalars | undefined,
  ): void {
    this.restoreOne(v);
    makePrivate(backend, v);
    for (const s of slots) makePrivate(backend, s);
    const spare = next && this.spareFor(backend, v);
    const [theta, ...state] = views(backend, [v, ...slots]);
    // A gradient is only read; a host copy is taken when it lives on another backend.
    const g = readableValues(backend, grad);
    const predicted = spare && views(backend, [spare])[0]!;
    this.kernel.update(theta!, g, scale, state, ctx, next && { ...next, predicted: predicted! });
    for (const t of [v, ...slots]) markWritten(backend, t);
    if (next && spare) {
      markWritten(backend, spare);
      this.prepared.set(v.name, { prediction: next, inputs: inputsOf(v, slots, spare) });
    } else {
      this.prepared.delete(v.name);
    }
  }

  /** True when `spare` holds θ̂ for `p` from `v` and `slots` exactly as they are now. */
  private isPrepared(
    v: tf.Variable,
    slots: readonly tf.Variable[],
    spare: tf.Tensor,
    p: PredictionScalars,
  ): boolean {
    const prepared = this.prepared.get(v.name);
    if (!prepared) return false;
    const { prediction: q, inputs } = prepared;
    if (q.a !== p.a || q.b !== p.b || q.completed !== p.completed) return false;
    const now = inputsOf(v, slots, spare);
    return (
      now.length === inputs.length &&
      now.every(([id, version], i) => id === inputs[i]![0] && version === inputs[i]![1])
    );
  }

  /**
   * Puts θ_t back, bit for bit, into every variable still holding θ̂ (the gradient threw, or the
   * update was skipped or failed). Does nothing when every update ran.
   */
  restore(): void {
    for (const v of this.pending.values()) this.restoreOne(v);
  }

  /**
   * θ_t back into `v` when it holds θ̂: by exchanging the buffers again when `v`'s is still
   * private; after anything else (a reference taken in the loss function, another backend) into a
   * fresh buffer, so that no other tensor sees the change.
   */
  private restoreOne(v: tf.Variable): void {
    if (!this.pending.delete(v.name) || v.isDisposed) return;
    const spare = this.spares.get(v.name)!;
    const backend = fusedBackend();
    if (
      backend &&
      isPrivate(backend, v) &&
      storageView(backend, v) !== null &&
      storageView(backend, spare) !== null
    ) {
      swapStorage(backend, v, spare);
    } else {
      assignCopy(v, Float32Array.from(spare.dataSync()));
    }
  }

  /** The spare buffer of a variable (for tests); undefined before its first prediction. */
  spareOf(variableName: string): tf.Tensor | undefined {
    return this.spares.get(variableName);
  }

  dispose(): void {
    this.restore();
    for (const spare of this.spares.values()) spare.dispose();
    this.spares.clear();
    this.prepared.clear();
  }

  /** `v`'s spare buffer, private and on this backend; a new one the first time or after a change. */
  private spareFor(backend: FusedBackend, v: tf.Variable): tf.Tensor {
    let spare = this.spares.get(v.name);
    if (
      spare &&
      !spare.isDisposed &&
      spare.size === v.size &&
      isPrivate(backend, spare) &&
      storageView(backend, spare) !== null
    ) {
      return spare;
    }
    spare?.dispose();
    spare = tf.keep(privateZeros(v.shape));
    this.spares.set(v.name, spare);
    this.prepared.delete(v.name);
    return spare;
  }
}

function inputsOf(
  v: tf.Variable,
  slots: readonly tf.Variable[],
  spare: tf.Tensor,
): [object, number][] {
  return [v, ...slots, spare].map((t) => [t.dataId, storageVersion(t)]);
}

/** Views of the tensors' storage (after every allocation: wasm's heap may grow). */
function views(backend: FusedBackend, tensors: readonly tf.Tensor[]): Float32Array[] {
  return tensors.map((t) => {
    const view = storageView(backend, t);
    if (!view) throw new Error(`internal: no ${backend} storage for a tensor after a copy`);
    return view;
  });
}

/** Σg² over the gradients, accumulated in float64 (cannot overflow for float32 inputs). */
function sumOfSquares(backend: FusedBackend, grads: readonly tf.Tensor[]): number {
  const native = nativeKernels();
  let sum = 0;
  for (const grad of grads) {
    const values = readableValues(backend, grad);
    sum += native ? native.sumOfSquares(values) : sumOfSquaresLoop(values);
  }
  return sum;
}

/** Σx² with four independent sums, so the additions do not wait on each other. */
function sumOfSquaresLoop(x: Float32Array): number {
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
