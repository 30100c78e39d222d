import type * as tf from '@tensorflow/tfjs';

/** Host-side (float64) facts about the update being applied to one variable. */
export interface UpdateContext {
  /** 1-based number of this update: the optimizer has completed `step − 1` updates before it. */
  step: number;
  learningRate: number;
  /** λ for this variable: 0 when the variable is excluded from weight decay. */
  weightDecay: number;
  /** What the rule's `host.beginStep` returned for this update (absent for rules without one). */
  stepScalars?: Readonly<Record<string, number>>;
}

/**
 * The math of one base optimizer, written once and free of TF.js bookkeeping: how its per-variable
 * state advances with a gradient, and its update direction Δθ (without the learning rate), which is
 * what weight prediction extrapolates along (XGrad: θ̂ = θ − s·η·Δθ).
 *
 * A rule is pure math: it imports TF.js ops and these types, nothing else (no kernels, no
 * optimizer code). Its fused loops, where it has them, are paired with it by the optimizer class.
 *
 * Functions take and return tensors; the caller runs them inside `tf.tidy` and owns the results.
 *
 * Where the gradient is taken: at θ without prediction; at θ̂ = a·θ − b·Δθ (src/prediction/) with
 * `predictionSteps` s > 0 when the rule has a `direction`; at the rule's own `gradientPoint` when
 * it has one (Schedule-Free's y). Either way the variables hold the rule's evaluation weights
 * outside `minimize` (for Schedule-Free, x): the swap to the gradient point and back is scoped.
 */
export interface Rule {
  /** Names of the per-variable state slots, in the order `update` takes and returns them. */
  readonly slots: readonly string[];
  /** True when weight decay is decoupled (θ ← θ·(1 − η·λ)), which a prediction may include. */
  readonly decoupledWeightDecay: boolean;
  /** The slots' first values for a variable holding θ (default: zeros). */
  init?(theta: tf.Tensor): tf.Tensor[];
  /** One update of θ with gradient g; returns the new θ and the new slot values. */
  update(
    theta: tf.Tensor,
    grad: tf.Tensor,
    state: readonly tf.Tensor[],
    ctx: UpdateContext,
  ): { theta: tf.Tensor; state: tf.Tensor[] };
  /**
   * Δθ from the current state after `completed` (≥ 1) updates. Never changes the state. Absent
   * when the rule has no direction to extrapolate along: `predictionSteps` > 0 is then refused
   * with `noPredictionReason`.
   */
  direction?(state: readonly tf.Tensor[], completed: number): tf.Tensor;
  /** Why the rule takes no `predictionSteps` (required when `direction` is absent). */
  readonly noPredictionReason?: string;
  /**
   * The weights to take the gradient at, when they are not the variables' (evaluation) weights θ
   * and not a prediction: from θ and the state after `completed` (≥ 1) updates.
   */
  gradientPoint?(theta: tf.Tensor, state: readonly tf.Tensor[], completed: number): tf.Tensor;
  /** State of the rule as a whole (beyond per-variable slots), kept on the host in float64. */
  readonly host?: RuleHostState;
}

/**
 * Rule-level state in named float64 scalars (Schedule-Free's running weight sum and largest
 * learning rate, say). The optimizer saves and loads it with its weights.
 */
export interface RuleHostState {
  readonly names: readonly string[];
  /** The current values, in the order of `names`. */
  values(): number[];
  /** Sets the values (as `values()` returned them); `undefined` resets to the initial state. */
  load(values: readonly number[] | undefined): void;
  /**
   * Called once per update before any variable's: advances the host state and returns the
   * scalars every variable's update of this step shares (in `UpdateContext.stepScalars`).
   */
  beginStep(step: number, learningRate: number): Record<string, number>;
}

/** Slot `name` of `state`, for rules whose slot layout depends on their options. */
export function slot(
  rule: Pick<Rule, 'slots'>,
  state: readonly tf.Tensor[],
  name: string,
): tf.Tensor {
  const i = rule.slots.indexOf(name);
  const value = state[i];
  if (i < 0 || value === undefined) throw new Error(`internal: rule has no state slot ${name}`);
  return value;
}

/**
 * Weight decay as a rule applies it before its step: decoupled, θ ← θ·(1 − η·λ) (AdamW), or L2,
 * g ← g + λ·θ (PyTorch's Adam, SGD, RMSprop).
 */
export function applyWeightDecay(
  theta: tf.Tensor,
  grad: tf.Tensor,
  { learningRate, weightDecay }: UpdateContext,
  decoupled: boolean,
): { theta: tf.Tensor; grad: tf.Tensor } {
  if (weightDecay === 0) return { theta, grad };
  return decoupled
    ? { theta: theta.mul(1 - learningRate * weightDecay), grad }
    : { theta, grad: grad.add(theta.mul(weightDecay)) };
}

/**
 * m / (√s / √(1 − β2^t) + ε): an adaptive step before the first moment's bias correction, with
 * ε after the square root of the bias-corrected second moment s (PyTorch's Adam family).
 */
export function adaptiveRatio(
  m: tf.Tensor,
  second: tf.Tensor,
  beta2: number,
  epsilon: number,
  t: number,
): tf.Tensor {
  return m.div(
    second
      .sqrt()
      .div(Math.sqrt(1 - beta2 ** t))
      .add(epsilon),
  );
}
