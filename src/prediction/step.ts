/**
 * How an optimizer step runs: the one home of the weight swap and of the choice of implementation.
 *
 * A step is: put θ̂ (the prediction, or a rule's own gradient point) in the variables, take the
 * gradient there, put θ_t back bit for bit, update θ_t. `StepStrategy` is that sequence's
 * mechanics, implemented twice: with tf ops on any backend (`TfOpsStep`), and with single-pass
 * loops directly on the cpu / wasm storage (`FusedSteps`, prediction/fused/steps.ts), whose loops
 * are a rule's JS ones or the accelerator's. `StepEngine.select` is the one place that picks.
 */
import * as tf from '@tensorflow/tfjs';
import { accelerator, type NativeKernels } from '../accelerator.js';
import type { Rule, UpdateContext } from '../rules/types.js';
import { FusedSteps, sumOfSquaresLoop, type FusedLoops } from './fused/steps.js';
import { fusedBackend } from './fused/storage.js';
import type { FusedKernels, PredictionScalars, SimdLoops } from './fused/types.js';

/** The mechanics of one optimizer step, as `WeightPredictionOptimizer.minimize` drives them. */
export interface StepStrategy {
  /**
   * Puts θ̂ in `v`: a·θ − b·Δθ (`p`), or the rule's gradient point. θ_t is kept aside until
   * `restore`. The caller calls it only for variables that have state.
   */
  predict(v: tf.Variable, slots: readonly tf.Variable[], p: PredictionScalars): void;
  /** θ_t back, bit for bit, in every variable still holding θ̂; nothing when none does. */
  restore(): void;
  /** Σg² over the gradients, in float64 where the implementation allows. */
  sumOfSquares(grads: readonly tf.Tensor[]): number;
  /**
   * One update of `v` (holding θ_t) with gradient `scale`·g. With `next`, an implementation may
   * also prepare the next step's θ̂ for those scalars in the same pass (the fused one does).
   */
  update(
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
    next?: PredictionScalars,
  ): void;
}

/**
 * Which implementation runs each step (`WeightPredictionOptimizer.kernel`):
 * - `'fused'`: single-pass loops on the cpu and wasm backends for rules that have them;
 * - `'tfjs'`: always tf ops (the reference the loops are tested against);
 * - `'auto'` (default): fused on cpu, where even the JS loops measured 27–37× faster than tf ops;
 *   on wasm with the accelerator's loops or the rule's SIMD ones, since the JS loops measured no
 *   faster there than TF.js's own kernels.
 */
export type OptimizerKernel = 'auto' | 'fused' | 'tfjs';
export const OPTIMIZER_KERNELS: readonly OptimizerKernel[] = ['auto', 'fused', 'tfjs'];

/**
 * The tf-ops step. θ_t is kept by reference: TF.js tensors are immutable, so a clone shares the
 * buffer and assigning it back restores θ_t bit for bit with no copy.
 */
export class TfOpsStep implements StepStrategy {
  private readonly kept: { v: tf.Variable; theta: tf.Tensor }[] = [];

  constructor(private readonly rule: Rule) {}

  predict(v: tf.Variable, slots: readonly tf.Variable[], { a, b, completed }: PredictionScalars) {
    this.kept.push({ v, theta: tf.keep(v.clone()) });
    const { rule } = this;
    tf.tidy(() => {
      if (rule.gradientPoint) {
        v.assign(rule.gradientPoint(v, slots, completed));
      } else {
        const direction = rule.direction!(slots, completed);
        v.assign((a === 1 ? v : v.mul(a)).sub(direction.mul(b)));
      }
    });
  }

  restore(): void {
    for (const { v, theta } of this.kept) {
      if (!v.isDisposed) v.assign(theta);
      theta.dispose();
    }
    this.kept.length = 0;
  }

  sumOfSquares(grads: readonly tf.Tensor[]): number {
    const sum = tf.tidy(() => tf.addN(grads.map((g) => g.square().sum())));
    const value = sum.dataSync()[0]!;
    sum.dispose();
    return value;
  }

  update(
    v: tf.Variable,
    grad: tf.Tensor,
    scale: number,
    slots: readonly tf.Variable[],
    ctx: UpdateContext,
  ): void {
    tf.tidy(() => {
      const g = scale === 1 ? grad : grad.mul(scale);
      const next = this.rule.update(v, g, slots, ctx);
      v.assign(next.theta);
      next.state.forEach((value, i) => slots[i]!.assign(value));
    });
  }
}

/**
 * An optimizer's step implementations and the choice between them. Holds the fused path's spare
 * buffers (allocated once per variable, never part of the saved state).
 */
export class StepEngine {
  private readonly tfOps: TfOpsStep;
  private readonly fused: FusedSteps | undefined;
  private readonly jsLoops: FusedLoops | undefined;
  private native: { addon: NativeKernels; loops: FusedLoops } | undefined;
  private simd: { of: SimdLoops; loops: FusedLoops } | undefined;

  constructor(
    rule: Rule,
    private readonly kernels: FusedKernels | undefined,
  ) {
    this.tfOps = new TfOpsStep(rule);
    if (kernels) {
      this.fused = new FusedSteps();
      this.jsLoops = { rule: kernels.js, sumOfSquares: sumOfSquaresLoop };
    }
  }

  /**
   * The one place a step's implementation is picked: the rule's fused loops (the accelerator's
   * when it is there and the rule has native ones, else on wasm its SIMD ones, else JS) when
   * `kernel` asks for them on this backend and the variables suit them; tf ops otherwise.
   * `scratchGradients`: the gradients are this step's own (minimize frees them after the update),
   * so an update may write over them.
   */
  select(
    kernel: OptimizerKernel,
    variables: readonly tf.Variable[],
    scratchGradients: boolean,
  ): StepStrategy {
    if (kernel === 'tfjs' || !this.fused || fusedBackend() === null) return this.tfOps;
    const addon = accelerator();
    const fast = (addon && this.nativeLoops(addon)) || this.simdLoops();
    // Off cpu, 'auto' takes only native or SIMD loops: JS loops measured no faster than wasm's
    // kernels.
    if (kernel === 'auto' && tf.getBackend() !== 'cpu' && fast === null) return this.tfOps;
    const loops = fast ?? this.jsLoops!;
    return this.fused.stepOn(variables, loops, scratchGradients) ?? this.tfOps;
  }

  /** The rule's SIMD loops on the active backend (wrapped once per heap), or null. */
  private simdLoops(): FusedLoops | null {
    const of = this.kernels?.simd?.() ?? null;
    if (of === null) return null;
    if (this.simd?.of !== of) {
      this.simd = {
        of,
        loops: { rule: of.rule, sumOfSquares: (x) => of.sumOfSquares(x) ?? sumOfSquaresLoop(x) },
      };
    }
    return this.simd.loops;
  }

  /** The accelerator's loops for this rule (made once per addon), or null when it has none. */
  private nativeLoops(addon: NativeKernels): FusedLoops | null {
    if (!this.kernels?.native) return null;
    if (this.native?.addon !== addon) {
      this.native = {
        addon,
        loops: { rule: this.kernels.native(addon), sumOfSquares: (x) => addon.sumOfSquares(x) },
      };
    }
    return this.native.loops;
  }

  /** A variable's spare buffer on the fused path (for tests); undefined before its first use. */
  spareOf(variableName: string): tf.Tensor | undefined {
    return this.fused?.spareOf(variableName);
  }

  /** θ_t back wherever θ̂ is still in place (both paths). */
  restore(): void {
    this.tfOps.restore();
    this.fused?.restore();
  }

  dispose(): void {
    this.tfOps.restore();
    this.fused?.dispose();
  }
}
