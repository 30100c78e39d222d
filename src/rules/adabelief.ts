import * as tf from '@tensorflow/tfjs';
import { adaptiveRatio, applyWeightDecay, type Rule, type UpdateContext } from './types.js';

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
    update(theta, grad, state, ctx: UpdateContext) {
      const [m0, s0, sMax0] = state as tf.Tensor[];
      const { theta: p, grad: g } = applyWeightDecay(theta, grad, ctx, o.decoupledWeightDecay);
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
      const sMax = o.amsgrad ? tf.maximum(sMax0!, s) : undefined;
      const ratio = adaptiveRatio(m, sMax ?? s, o.beta2, o.epsilon, ctx.step);
      const next = p.sub(ratio.mul(ctx.learningRate / (1 - o.beta1 ** ctx.step)));
      return { theta: next, state: sMax ? [m, s, sMax] : [m, s] };
    },
    direction(state, completed) {
      const [m, s] = state as tf.Tensor[];
      return adaptiveRatio(m!, s!, o.beta2, o.epsilon, completed).div(1 - o.beta1 ** completed);
    },
  };
}
