import * as tf from '@tensorflow/tfjs';
import { adaptiveRatio, applyWeightDecay, type Rule, type UpdateContext } from './types.js';

export interface AdamRuleOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  amsgrad: boolean;
  /** AdamW (θ ← θ·(1 − ηλ) before the step) when true; Adam's coupled L2 (g ← g + λθ) when false. */
  decoupledWeightDecay: boolean;
}

/**
 * Adam and AdamW exactly as PyTorch's `torch.optim.Adam` / `AdamW`: ε is added after the square
 * root of the bias-corrected second moment, and bias corrections come from the step count in
 * float64 on the host.
 *
 * Direction (for prediction): m̂ / (√v̂ + ε), always with v, never with AMSGrad's vMax.
 *
 * The same math as single-pass loops: src/kernels/fused/adam.ts (JS) and native/adam.cc.
 */
export function adamRule(o: AdamRuleOptions): Rule {
  const slots = o.amsgrad ? ['m', 'v', 'vMax'] : ['m', 'v'];
  return {
    slots,
    decoupledWeightDecay: o.decoupledWeightDecay,
    update(theta, grad, state, ctx: UpdateContext) {
      const [m0, v0, vMax0] = state as tf.Tensor[];
      const { theta: p, grad: g } = applyWeightDecay(theta, grad, ctx, o.decoupledWeightDecay);
      const m = m0!.mul(o.beta1).add(g.mul(1 - o.beta1));
      const v = v0!.mul(o.beta2).add(g.square().mul(1 - o.beta2));
      const vMax = o.amsgrad ? tf.maximum(vMax0!, v) : undefined;
      const ratio = adaptiveRatio(m, vMax ?? v, o.beta2, o.epsilon, ctx.step);
      const next = p.sub(ratio.mul(ctx.learningRate / (1 - o.beta1 ** ctx.step)));
      return { theta: next, state: vMax ? [m, v, vMax] : [m, v] };
    },
    direction(state, completed) {
      const [m, v] = state as tf.Tensor[];
      return adaptiveRatio(m!, v!, o.beta2, o.epsilon, completed).div(1 - o.beta1 ** completed);
    },
  };
}
