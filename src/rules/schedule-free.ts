import type * as tf from '@tensorflow/tfjs';
import type { Schedule } from '../schedules/index.js';
import type { Rule, UpdateContext } from './types.js';

export interface ScheduleFreeRuleOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
  /** The optimizer's learning-rate schedule: the averaging weights depend on every past lr. */
  schedule: Schedule;
}

/**
 * The host-side scalars of Schedule-Free AdamW's update k + 1 (k completed), in float64:
 * γ_k = lr_k·min(1, (k+1)/warmupSteps), γmax_k = max(γmax_{k−1}, γ_k) (γmax_{−1} = −1),
 * w_k = (k+1)^r·γmax_k^weightLrPower, c_k = w_k / Σ_{j≤k} w_j (0 when that sum is 0).
 * These depend on the step count and the schedule alone, so they need no saved state: the running
 * maximum and sum are cached in the reference's order and recomputed identically after a restore.
 */
export class ScheduleFreeWeights {
  private readonly lrMax: number[] = [];
  private readonly weightSum: number[] = [];

  constructor(private readonly o: Omit<ScheduleFreeRuleOptions, 'beta1' | 'beta2' | 'epsilon'>) {}

  private scheduledLr(k: number): number {
    const warm = this.o.warmupSteps;
    return this.o.schedule(k) * (k < warm ? (k + 1) / warm : 1);
  }

  /** γ and c of the update made after `k` completed updates. */
  at(k: number): { lr: number; c: number } {
    for (let j = this.weightSum.length; j <= k; j++) {
      const lrMax = Math.max(this.scheduledLr(j), j === 0 ? -1 : this.lrMax[j - 1]!);
      const weight = (j + 1) ** this.o.r * lrMax ** this.o.weightLrPower;
      this.lrMax.push(lrMax);
      this.weightSum.push((j === 0 ? 0 : this.weightSum[j - 1]!) + weight);
    }
    const lrMax = this.lrMax[k]!;
    const sum = this.weightSum[k]!;
    const weight = (k + 1) ** this.o.r * lrMax ** this.o.weightLrPower;
    return { lr: this.scheduledLr(k), c: sum === 0 ? 0 : weight / sum };
  }
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
  const weights = new ScheduleFreeWeights(o);
  const gradientPoint = (x: tf.Tensor, zOffset: tf.Tensor) => x.add(zOffset.mul(1 - o.beta1));
  return {
    slots: ['zOffset', 'v'],
    decoupledWeightDecay: false,
    update(x, grad, state, ctx: UpdateContext) {
      const [zOffset, v0] = state as tf.Tensor[];
      const k = ctx.step - 1;
      const { lr, c } = weights.at(k);
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
    direction() {
      throw new Error('internal: Schedule-Free AdamW has no prediction direction');
    },
    gradientPoint(x, state) {
      return gradientPoint(x, state[0]!);
    },
  };
}
