import type * as tf from '@tensorflow/tfjs';

/** Host-side (float64) facts about the update being applied to one variable. */
export interface UpdateContext {
  /** 1-based number of this update: the optimizer has completed `step − 1` updates before it. */
  step: number;
  learningRate: number;
  /** λ for this variable: 0 when the variable is excluded from weight decay. */
  weightDecay: number;
}

/**
 * The math of one base optimizer, written once and free of TF.js bookkeeping: how its per-variable
 * state advances with a gradient, and its update direction Δθ (without the learning rate), which is
 * what weight prediction extrapolates along (XGrad: θ̂ = θ − s·η·Δθ).
 *
 * Functions take and return tensors; the caller runs them inside `tf.tidy` and owns the results.
 */
export interface Rule {
  /** Names of the per-variable state slots, in the order `update` takes and returns them. */
  readonly slots: readonly string[];
  /** True when weight decay is decoupled (θ ← θ·(1 − η·λ)), which a prediction may include. */
  readonly decoupledWeightDecay: boolean;
  /** One update of θ with gradient g; returns the new θ and the new slot values. */
  update(
    theta: tf.Tensor,
    grad: tf.Tensor,
    state: readonly tf.Tensor[],
    ctx: UpdateContext,
  ): { theta: tf.Tensor; state: tf.Tensor[] };
  /** Δθ from the current state after `completed` (≥ 1) updates. Never changes the state. */
  direction(state: readonly tf.Tensor[], completed: number): tf.Tensor;
  /**
   * Where the gradient is taken, for a rule that takes it away from the weights the variables hold
   * (Schedule-Free: y between x and z). Such a rule has no weight prediction. Called after
   * `completed` (≥ 1) updates; before the first, the gradient is taken at θ.
   */
  gradientPoint?(theta: tf.Tensor, state: readonly tf.Tensor[], completed: number): tf.Tensor;
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
