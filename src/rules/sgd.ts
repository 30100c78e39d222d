import * as tf from '@tensorflow/tfjs';
import { applyWeightDecay, slot, type Rule, type UpdateContext } from './types.js';

export interface SgdRuleOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** Keep the last gradient: the prediction direction when there is no momentum buffer. */
  keepLastGradient: boolean;
}

/**
 * SGD exactly as PyTorch's `torch.optim.SGD`: coupled L2 weight decay, and a momentum buffer that
 * starts as a copy of the first gradient (no dampening on the first step).
 *
 * Direction (for prediction, XGrad): the momentum buffer; without momentum, the last gradient.
 */
export function sgdRule(o: SgdRuleOptions): Rule {
  const slots: string[] = [];
  if (o.momentum !== 0) slots.push('momentum');
  else if (o.keepLastGradient) slots.push('lastGradient');
  const rule: Rule = {
    slots,
    decoupledWeightDecay: false,
    update(theta, grad, state, ctx: UpdateContext) {
      const { step, learningRate: lr } = ctx;
      const { grad: g } = applyWeightDecay(theta, grad, ctx, false);
      if (o.momentum === 0) {
        return { theta: theta.sub(g.mul(lr)), state: o.keepLastGradient ? [g.clone()] : [] };
      }
      const previous = slot(rule, state, 'momentum');
      const buf = step === 1 ? g.clone() : previous.mul(o.momentum).add(g.mul(1 - o.dampening));
      const d = o.nesterov ? g.add(buf.mul(o.momentum)) : buf;
      return { theta: theta.sub(d.mul(lr)), state: [buf] };
    },
    direction(state) {
      return tf.clone(state[0]!);
    },
  };
  return rule;
}
