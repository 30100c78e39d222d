import { applyWeightDecay, slot, type Rule, type UpdateContext } from './types.js';
import type * as tf from '@tensorflow/tfjs';

export interface RmspropRuleOptions {
  alpha: number;
  epsilon: number;
  momentum: number;
  centered: boolean;
  /** Keep the last gradient: needed for the prediction direction when there is no momentum. */
  keepLastGradient: boolean;
}

/**
 * RMSprop exactly as PyTorch's `torch.optim.RMSprop`: coupled L2 weight decay, ε added after the
 * square root, optional centring (v − ḡ²) and momentum buffer.
 *
 * Direction (for prediction, XGrad): the momentum buffer; without momentum, g_last / (√v + ε)
 * from the current state.
 */
export function rmspropRule(o: RmspropRuleOptions): Rule {
  const slots = ['v'];
  if (o.centered) slots.push('gradAverage');
  if (o.momentum !== 0) slots.push('momentum');
  else if (o.keepLastGradient) slots.push('lastGradient');

  const denominator = (v: tf.Tensor, gAvg?: tf.Tensor): tf.Tensor => {
    const centredV = gAvg ? v.sub(gAvg.square()) : v;
    return centredV.sqrt().add(o.epsilon);
  };

  const rule: Rule = {
    slots,
    decoupledWeightDecay: false,
    update(theta, grad, state, ctx: UpdateContext) {
      const lr = ctx.learningRate;
      const { grad: g } = applyWeightDecay(theta, grad, ctx, false);
      const v = slot(rule, state, 'v')
        .mul(o.alpha)
        .add(g.square().mul(1 - o.alpha));
      const next: tf.Tensor[] = [v];
      let gAvg: tf.Tensor | undefined;
      if (o.centered) {
        gAvg = slot(rule, state, 'gradAverage')
          .mul(o.alpha)
          .add(g.mul(1 - o.alpha));
        next.push(gAvg);
      }
      const avg = denominator(v, gAvg);
      if (o.momentum !== 0) {
        const buf = slot(rule, state, 'momentum').mul(o.momentum).add(g.div(avg));
        next.push(buf);
        return { theta: theta.sub(buf.mul(lr)), state: next };
      }
      if (o.keepLastGradient) next.push(g.clone());
      return { theta: theta.sub(g.div(avg).mul(lr)), state: next };
    },
    direction(state) {
      if (o.momentum !== 0) return slot(rule, state, 'momentum').clone();
      const gAvg = o.centered ? slot(rule, state, 'gradAverage') : undefined;
      return slot(rule, state, 'lastGradient').div(denominator(slot(rule, state, 'v'), gAvg));
    },
  };
  return rule;
}
