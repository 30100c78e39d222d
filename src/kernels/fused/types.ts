import type { Rule, UpdateContext } from '../../rules/types.js';

/**
 * A rule's math as single-pass loops over Float32Arrays: what its tf-ops `update` and `direction`
 * compute, in one read and one write of each array, in float32 arithmetic (as the tf-ops rule's
 * float32 tensors and PyTorch's float32 step), with the same host-side scalars as the tf-ops rule.
 */
export interface FusedRuleKernel {
  /**
   * One pass: copies θ into `cache` and overwrites `theta` with θ̂ = a·θ − b·Δθ, where Δθ is the
   * rule's direction from `state` after `completed` (≥ 1) updates. Never changes the state.
   */
  predict(
    theta: Float32Array,
    cache: Float32Array,
    state: readonly Float32Array[],
    completed: number,
    a: number,
    b: number,
  ): void;
  /**
   * One update with gradient `gradScale`·g: reads θ from `thetaIn` and writes the new θ to
   * `thetaOut` (the same array, or the cache of θ_t while θ̂ is in the variable), and advances
   * `state` in place.
   */
  update(
    thetaIn: Float32Array,
    thetaOut: Float32Array,
    grad: Float32Array,
    gradScale: number,
    state: readonly Float32Array[],
    ctx: UpdateContext,
  ): void;
}

/** A rule that also has fused loops for the cpu and wasm backends. */
export type RuleWithFusedKernel = Rule & { readonly fused: FusedRuleKernel };

/** Attaches fused loops to a rule (the rule's tf-ops functions stay the reference). */
export function withFusedKernel(rule: Rule, fused: FusedRuleKernel): RuleWithFusedKernel {
  return { ...rule, fused };
}

/** The rule's fused loops, or undefined when it has only its tf-ops functions. */
export function fusedKernelOf(rule: Rule): FusedRuleKernel | undefined {
  return (rule as Partial<RuleWithFusedKernel>).fused;
}
