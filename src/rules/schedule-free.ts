import type * as tf from '@tensorflow/tfjs';
import type { Rule, RuleHostState, UpdateContext } from './types.js';

export interface ScheduleFreeRuleOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
}

/**
 * The running largest lr and weight sum of Schedule-Free AdamW, in float64, and the scalars of
 * update k + 1 (k completed): γ = lr·min(1, (k+1)/warmupSteps), γmax = max(γmax, γ) (starting
 * at −1), w = (k+1)^r·γmax^weightLrPower, W += w, c = w/W (0 when W = 0).
 */
function scheduleFreeHost(o: ScheduleFreeRuleOptions): RuleHostState {
  let lrMax = -1;
  let weightSum = 0;
  return {
    names: ['lrMax', 'weightSum'],
    values: () => [lrMax, weightSum],
    load(values) {
      [lrMax, weightSum] = values ? [values[0]!, values[1]!] : [-1, 0];
    },
    beginStep(step, learningRate) {
      const k = step - 1;
      const lr = learningRate * (k < o.warmupSteps ? (k + 1) / o.warmupSteps : 1);
      lrMax = Math.max(lr, lrMax);
      const weight = (k + 1) ** o.r * lrMax ** o.weightLrPower;
      weightSum += weight;
      return { lr, c: weightSum === 0 ? 0 : weight / weightSum };
    },
  };
}

/**
 * Schedule-Free AdamW (Defazio et al. 2024) exactly as facebookresearch/schedule_free
 * (schedulefree/adamw_schedulefree.py at 70785b53e778d0e872c0bbb75ff4ee54ee10c291, with
 * inner_momentum 0; its reference version adamw_schedulefree_reference.py spells out x, y, z):
 * the gradient is taken at y = (1 − β1)·z + β1·x; v ← β2·v + (1 − β2)·g²;
 * u = g/(√(v/(1 − β2^{k+1})) + ε) + λ·y (decay at y); z ← z − γ·u; x ← (1 − c)·x + c·z.
 *
 * The variables hold x, the weights to evaluate, save and predict with; y exists only while the
 * gradient is taken. The state holds z − x rather than z: it starts at 0 like every slot, and
 * y = x + (1 − β1)·(z − x). No weight prediction: the method already takes its gradient away from
 * the weights it returns.
 */
export function scheduleFreeRule(o: ScheduleFreeRuleOptions): Rule {
  const gradientPoint = (x: tf.Tensor, zOffset: tf.Tensor) => x.add(zOffset.mul(1 - o.beta1));
  return {
    slots: ['zOffset', 'v'],
    decoupledWeightDecay: false,
    update(x, grad, state, ctx: UpdateContext) {
      const [zOffset, v0] = state as tf.Tensor[];
      const k = ctx.step - 1;
      const { lr, c } = ctx.stepScalars as { lr: number; c: number };
      const v = v0!.mul(o.beta2).add(grad.square().mul(1 - o.beta2));
      let u = grad.div(
        v
          .div(1 - o.beta2 ** (k + 1))
          .sqrt()
          .add(o.epsilon),
      );
      if (ctx.weightDecay !== 0) u = u.add(gradientPoint(x, zOffset!).mul(ctx.weightDecay));
      // e = z_new − x_old; x_new = x_old + c·e; z_new − x_new = (1 − c)·e.
      const e = zOffset!.sub(u.mul(lr));
      return { theta: x.add(e.mul(c)), state: [e.mul(1 - c), v] };
    },
    host: scheduleFreeHost(o),
    noPredictionReason:
      'Schedule-Free already takes its gradient at y = (1 − β1)·z + β1·x, away from the weights x it returns; predicting on top would change the method. Compare it with predictionSteps 0.',
    gradientPoint(x, state) {
      return gradientPoint(x, state[0]!);
    },
  };
}
