import type { NativeKernels } from '../../accelerator.js';
import type { UpdateContext } from '../../rules/types.js';

/**
 * Where a prediction points: θ̂ = a·θ − b·Δθ, with Δθ the rule's direction from its state after
 * `completed` (≥ 1) updates (a rule with its own gradient point reads only `completed`).
 */
export interface PredictionScalars {
  a: number;
  b: number;
  completed: number;
}

/**
 * A rule's math as single-pass loops over Float32Arrays: what its tf-ops `update` and `direction`
 * compute, in one read and one write of each array, in float32 arithmetic (as the tf-ops rule's
 * float32 tensors and PyTorch's float32 step), with the same host-side scalars as the tf-ops rule.
 */
export interface FusedRuleKernel {
  /** One pass: writes θ̂ into `predicted`; θ and the state are only read. */
  predict(
    theta: Float32Array,
    predicted: Float32Array,
    state: readonly Float32Array[],
    p: PredictionScalars,
  ): void;
  /**
   * One update in place of θ and `state` with gradient `gradScale`·g. With `next`, the same pass
   * also writes into `next.predicted` the θ̂ that `predict` would give from the new θ and state
   * (bit for bit), so that the next step's prediction costs no pass of its own. `next.predicted`
   * may be `grad` itself: each gradient value is read before θ̂ replaces it.
   */
  update(
    theta: Float32Array,
    grad: Float32Array,
    gradScale: number,
    state: readonly Float32Array[],
    ctx: UpdateContext,
    next?: PredictionScalars & { predicted: Float32Array },
  ): void;
}

/**
 * A rule's loops in WebAssembly SIMD on the wasm backend's heap, with the gradient norm's
 * (`sumOfSquares` gives null for an array outside the heap: the JS loop then runs).
 */
export interface SimdLoops {
  rule: FusedRuleKernel;
  sumOfSquares(x: Float32Array): number | null;
}

/**
 * A rule's fused loops: in JS (float32 via Math.fround, for any cpu or wasm backend) and, where
 * written, through the accelerator (bit-identical, on all cores) and in WebAssembly SIMD on the
 * wasm backend (bit-identical, one thread; `simd` gives them for the active backend, or null).
 * The optimizer class pairs its rule with these; src/prediction/step.ts picks which one runs.
 */
export interface FusedKernels {
  js: FusedRuleKernel;
  native?: (addon: NativeKernels) => FusedRuleKernel;
  simd?: () => SimdLoops | null;
}
