import * as tf from '@tensorflow/tfjs';
import { applyWeightDecay, type Rule, type UpdateContext } from './types.js';

export interface LionRuleOptions {
  beta1: number;
  beta2: number;
}

/**
 * Lion (Chen et al. 2023) exactly as lucidrains/lion-pytorch (lion_pytorch/lion_pytorch.py at
 * 05258c934a4e69af6e897a2d614e23e9b8c0ca4c, `update_fn`): θ ← θ·(1 − ηλ);
 * θ ← θ − η·sign(β1·m + (1 − β1)·g); m ← β2·m + (1 − β2)·g. Weight decay is always decoupled.
 *
 * Direction (for prediction): sign(m), the update's sign with its gradient term taken from m (the
 * next gradient is not known before θ̂): sign(β1·m + (1 − β1)·m).
 *
 * The same math as single-pass loops (`kernels/fused/lion.ts`) runs on the cpu and wasm backends.
 */
export function lionRule(o: LionRuleOptions): Rule {
  const rule: Rule = {
    slots: ['m'],
    decoupledWeightDecay: true,
    update(theta, grad, state, ctx: UpdateContext) {
      const [m0] = state as tf.Tensor[];
      const { theta: p } = applyWeightDecay(theta, grad, ctx, true);
      const update = exactSign(m0!.mul(o.beta1).add(grad.mul(1 - o.beta1)));
      const m = m0!.mul(o.beta2).add(grad.mul(1 - o.beta2));
      return { theta: p.sub(update.mul(ctx.learningRate)), state: [m] };
    },
    direction(state) {
      return exactSign(state[0]!);
    },
  };
  return rule;
}

/**
 * sign(x) ∈ {−1, 0, 1} from comparisons: TF.js's wasm Sign kernel returns 0 for |x| below about 1e-7
 * (measured with tfjs-backend-wasm here), where Lion's reference (torch.sign) gives ±1.
 */
function exactSign(x: tf.Tensor): tf.Tensor {
  return tf.sub(tf.cast(tf.greater(x, 0), 'float32'), tf.cast(tf.less(x, 0), 'float32'));
}
