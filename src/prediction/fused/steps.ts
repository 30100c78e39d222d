import * as tf from '@tensorflow/tfjs';
import type { UpdateContext } from '../../rules/types.js';
import type { StepStrategy } from '../step.js';
import {
  allFloat32,
  assignCopy,
  canTakeBuffer,
  hasStorage,
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

/** The loops one fused step runs: a rule's (JS or native) and the gradient norm's. */
export interface FusedLoops {
  rule: FusedRuleKernel;
  sumOfSquares(x: Float32Array): number;
}

/**
 * What a spare buffer holds for the next step: θ̂ for these scalars, computed from these inputs.
 * θ is identified by dataId and in-place write count (another optimizer may write it in place);
 * the state slots by the array and dataIds (only this optimizer writes them in place, and each of
 * its updates prepares θ̂ anew; `setWeights` replaces the array, `assign` a slot's dataId).
 */
interface Prepared {
  /** False once used or outdated. */
  valid: boolean;
  a: number;
  b: number;
  completed: number;
  theta: object;
  thetaVersion: number;
  slots: readonly tf.Variable[];
  slotIds: object[];
}

/** One variable's spare buffer. */
interface Spare {
  tensor: tf.Tensor;
  /** θ̂ the buffer holds for the next prediction (one record per spare, rewritten each step). */
  prepared: Prepared;
  /** The variable while it holds θ̂ and this buffer θ_t (between `predict` and its update). */
  lending: tf.Variable | null;
}

/**
 * The fused path of an optimizer step on the cpu and wasm backends: a rule's loops run directly on
 * the variables' and state slots' storage, in place.
 *
 * Weight prediction gives each variable one spare buffer of its size on the backend, never part of
 * the optimizer's saved state. The update that makes θ_t also writes θ̂ for the next step in the
 * same pass: into the spare buffer, or on wasm over the step's own gradient once read, whose
 * buffer then becomes the spare (the old one leaves with the gradient). `predict` then only
 * exchanges the two buffers' memory (the variable keeps its dataId): the variable holds θ̂ and the
 * spare θ_t, with no pass over the weights. `update` exchanges them back first, so it runs in
 * place on θ_t. When anything changed since θ̂ was written (the weights were assigned, the state
 * was loaded, the learning rate or the step count differ, another step wrote them), `predict`
 * computes θ̂ into the spare with a pass of its own first, so every step predicts from the current
 * θ_t and state either way, bit for bit. Until `update` or `restore` has run for a predicted
 * variable, its spare buffer holds the only copy of θ_t.
 *
 * The bookkeeping touches few objects on purpose: it runs between large kernels that have pushed
 * it out of cache, where each lookup costs a memory access (with three maps per variable and
 * versioned swaps it took about 4% of the MLP's s = 1 step).
 */
export class FusedSteps {
  private readonly spares = new Map<string, Spare>();
  /** How many spares are lent (their variable holds θ̂). */
  private lent = 0;
  /** The θ̂ target handed to each update's loops, rewritten per call. */
  private readonly target = { a: 0, b: 0, completed: 0, predicted: new Float32Array(0) };
  /** The step for each backend and kind of gradients, with the loops it runs (see `stepOn`). */
  private readonly bound: ({ loops: FusedLoops; step: StepStrategy } | undefined)[] = [];

  /**
   * The fused step over `variables` running `loops`, or null when it cannot run: the active
   * backend is not cpu or wasm, or a variable is not float32. `scratchGradients`: the step's
   * gradients are its own, to be freed after it (minimize's, not applyGradients' caller's), so an
   * update may write over them.
   */
  stepOn(
    variables: readonly tf.Variable[],
    loops: FusedLoops,
    scratchGradients: boolean,
  ): StepStrategy | null {
    const backend = fusedBackend();
    if (backend === null || !allFloat32(variables)) return null;
    // Made once per kind: this runs every step, and fresh closures cost microseconds.
    const kind = (backend === 'wasm' ? 2 : 0) + (scratchGradients ? 1 : 0);
    const bound = this.bound[kind];
    if (bound?.loops === loops) return bound.step;
    const step: StepStrategy = {
      predict: (v, slots, p) => this.predict(backend, loops.rule, v, slots, p),
      update: (v, grad, scale, slots, ctx, next) =>
        this.update(backend, loops.rule, v, grad, scale, slots, ctx, next, scratchGradients),
      sumOfSquares: (grads) => sumOfSquares(backend, loops, grads),
      restore: () => this.restore(),
    };
    this.bound[kind] = { loops, step };
    return step;
  }

  private predict(
    backend: FusedBackend,
    kernel: FusedRuleKernel,
    v: tf.Variable,
    slots: readonly tf.Variable[],
    p: PredictionScalars,
  ): void {
    // Every allocation before any view: a wasm allocation may grow the heap and detach views.
    makePrivate(backend, v);
    const spare = this.spareFor(backend, v);
    if (spare.lending !== null) {
      throw new Error(`internal: ${v.name} is predicted twice without an update or a restore`);
    }
    if (!isPrepared(spare.prepared, v, slots, p)) {
      const [theta, predicted, ...state] = views(backend, [v, spare.tensor, ...slots]);
      kernel.predict(theta!, predicted!, state, p);
    }
    swapStorage(backend, v, spare.tensor);
    spare.prepared.valid = false;
    spare.lending = v;
    this.lent++;
  }

  private update(
    backend: FusedBackend,
    kernel: FusedRuleKernel,
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
    next: PredictionScalars | undefined,
    scratchGradient: boolean,
  ): void {
    const lent = this.spares.get(v.name);
    if (lent?.lending) this.giveBack(lent);
    makePrivate(backend, v);
    for (const s of slots) makePrivate(backend, s);
    const spare = next && this.spareFor(backend, v);
    // θ̂ goes over a scratch gradient once the update has read it (see native/adam.cc: the
    // gradient's lines are in cache, a separate buffer's are not): the spare takes the gradient's
    // buffer, and the gradient tensor the spare's old one, freed with it.
    const overGradient =
      spare !== undefined && scratchGradient && canTakeBuffer(backend, grad, spare.tensor);
    if (overGradient) swapStorage(backend, spare.tensor, grad);
    const [theta, ...state] = views(backend, [v, ...slots]);
    const predicted = spare && view(backend, spare.tensor);
    // A gradient is only read; a host copy is taken when it lives on another backend.
    const g = overGradient ? predicted! : readableValues(backend, grad);
    let target: (PredictionScalars & { predicted: Float32Array }) | undefined;
    if (next) {
      // One object for every update (the loops only read it during the call): no allocation.
      target = this.target;
      target.a = next.a;
      target.b = next.b;
      target.completed = next.completed;
      target.predicted = predicted!;
    }
    kernel.update(theta!, g, scale, state, ctx, target);
    markWritten(backend, v);
    for (const s of slots) markWritten(backend, s);
    if (!spare) {
      if (lent) lent.prepared.valid = false;
      return;
    }
    // A gradient's id is new to the wasm backend's caches; the spare's own one may have been
    // cached as θ̂ in the forward pass.
    if (!overGradient) markWritten(backend, spare.tensor);
    const q = spare.prepared;
    q.valid = true;
    q.a = next!.a;
    q.b = next!.b;
    q.completed = next!.completed;
    q.theta = v.dataId;
    q.thetaVersion = storageVersion(v);
    q.slots = slots;
    // Setting an array's length is a runtime call even when it does not change.
    if (q.slotIds.length !== slots.length) q.slotIds.length = slots.length;
    for (let i = 0; i < slots.length; i++) q.slotIds[i] = slots[i]!.dataId;
  }

  /**
   * Puts θ_t back, bit for bit, into every variable still holding θ̂ (the gradient threw, or the
   * update was skipped or failed). Does nothing when every update ran.
   */
  restore(): void {
    if (this.lent === 0) return;
    for (const spare of this.spares.values()) if (spare.lending) this.giveBack(spare);
  }

  /**
   * θ_t back into the variable holding θ̂: by exchanging the buffers again when its own is still
   * private; after anything else (a reference taken in the loss function, another backend) into a
   * fresh buffer, so that no other tensor sees the change.
   */
  private giveBack(spare: Spare): void {
    const v = spare.lending!;
    spare.lending = null;
    this.lent--;
    if (v.isDisposed) return;
    const backend = fusedBackend();
    if (
      backend &&
      isPrivate(backend, v) &&
      hasStorage(backend, v) &&
      hasStorage(backend, spare.tensor)
    ) {
      swapStorage(backend, v, spare.tensor);
    } else {
      assignCopy(v, Float32Array.from(spare.tensor.dataSync()));
    }
  }

  /** The spare buffer of a variable (for tests); undefined before its first prediction. */
  spareOf(variableName: string): tf.Tensor | undefined {
    return this.spares.get(variableName)?.tensor;
  }

  dispose(): void {
    this.restore();
    for (const spare of this.spares.values()) spare.tensor.dispose();
    this.spares.clear();
  }

  /**
   * `v`'s spare, its buffer on this backend and of `v`'s size: a new one the first time or after
   * a change. Only this class references a spare's tensor (`spareOf` is for tests), so it stays
   * private.
   */
  private spareFor(backend: FusedBackend, v: tf.Variable): Spare {
    let spare = this.spares.get(v.name);
    if (spare && spare.tensor.size === v.size && hasStorage(backend, spare.tensor)) return spare;
    if (spare?.lending) this.giveBack(spare);
    spare?.tensor.dispose();
    spare = {
      tensor: tf.keep(privateZeros(v.shape)),
      prepared: {
        valid: false,
        a: 0,
        b: 0,
        completed: 0,
        theta: {},
        thetaVersion: 0,
        slots: [],
        slotIds: [],
      },
      lending: null,
    };
    this.spares.set(v.name, spare);
    return spare;
  }
}

/** True when `prepared` holds θ̂ for `p` from `v` and `slots` exactly as they are now. */
function isPrepared(
  prepared: Prepared,
  v: tf.Variable,
  slots: readonly tf.Variable[],
  p: PredictionScalars,
): boolean {
  if (
    !prepared.valid ||
    prepared.a !== p.a ||
    prepared.b !== p.b ||
    prepared.completed !== p.completed ||
    prepared.theta !== v.dataId ||
    prepared.thetaVersion !== storageVersion(v) ||
    prepared.slots !== slots
  ) {
    return false;
  }
  for (let i = 0; i < slots.length; i++) {
    if (slots[i]!.dataId !== prepared.slotIds[i]) return false;
  }
  return true;
}

/** A view of the tensor's storage (after every allocation: wasm's heap may grow). */
function view(backend: FusedBackend, t: tf.Tensor): Float32Array {
  const storage = storageView(backend, t);
  if (!storage) throw new Error(`internal: no ${backend} storage for a tensor after a copy`);
  return storage;
}

/** Views of the tensors' storage (after every allocation: wasm's heap may grow). */
function views(backend: FusedBackend, tensors: readonly tf.Tensor[]): Float32Array[] {
  return tensors.map((t) => view(backend, t));
}

/** Σg² over the gradients, accumulated in float64 (cannot overflow for float32 inputs). */
function sumOfSquares(
  backend: FusedBackend,
  loops: FusedLoops,
  grads: readonly tf.Tensor[],
): number {
  let sum = 0;
  for (const grad of grads) sum += loops.sumOfSquares(readableValues(backend, grad));
  return sum;
}

/** Σx² in float64 with four independent sums, so the additions do not wait on each other. */
export function sumOfSquaresLoop(x: Float32Array): number {
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
