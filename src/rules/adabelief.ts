import * as tf from '@tensorflow/tfjs';
import type { Rule, UpdateContext } from './types.js';

export interface AdaBeliefRuleOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  amsgrad: boolean;
  decoupledWeightDecay: boolean;
}

/**
 * AdaBelief (Zhuang et al. 2020) as the authors' `adabelief-pytorch` 0.2.0 without rectification:
 * s ← β2·s + (1 − β2)·(g − m)² + ε with ε added into the state, denom = √s / √bc2 + ε.
 *
 * Direction (for prediction): m̂ / (√ŝ + ε), with s, never with AMSGrad's sMax.
 */
export function adaBeliefRule(o: AdaBeliefRuleOptions): Rule {
  const slots = o.amsgrad ? ['m', 's', 'sMax'] : ['m', 's'];
  return {
    slots,
    decoupledWeightDecay: o.decoupledWeightDecay,
    update(theta, grad, state, { step, learningRate: lr, weightDecay: wd }: UpdateContext) {
      const [m0, s0, sMax0] = state as tf.Tensor[];
      let g = grad;
      let p = theta;
      if (wd !== 0) {
        if (o.decoupledWeightDecay) p = p.mul(1 - lr * wd);
        else g = g.add(p.mul(wd));
      }
      const m = m0!.mul(o.beta1).add(g.mul(1 - o.beta1));
      const s = s0!
        .mul(o.beta2)
        .add(
          g
            .sub(m)
            .square()
            .mul(1 - o.beta2),
        )
        .add(o.epsilon);
      const bc1 = 1 - o.beta1 ** step;
      const bc2 = 1 - o.beta2 ** step;
      const sMax = o.amsgrad ? tf.maximum(sMax0!, s) : undefined;
      const denom = (sMax ?? s).sqrt().div(Math.sqrt(bc2)).add(o.epsilon);
      const next = p.sub(m.div(denom).mul(lr / bc1));
      return { theta: next, state: sMax ? [m, s, sMax] : [m, s] };
    },
    direction(state, completed) {
      const [m, s] = state as tf.Tensor[];
      const bc1 = 1 - o.beta1 ** completed;
      const bc2 = 1 - o.beta2 ** completed;
      return m!.div(s!.sqrt().div(Math.sqrt(bc2)).add(o.epsilon)).div(bc1);
    },
  };
}
