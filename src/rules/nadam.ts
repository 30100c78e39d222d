import type * as tf from '@tensorflow/tfjs';
import { applyWeightDecay, type Rule, type UpdateContext } from './types.js';

export interface NAdamRuleOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** ψ: μ_t = β1·(1 − ½·0.96^(t·ψ)). */
  momentumDecay: number;
  /** θ ← θ·(1 − ηλ) when true (torch ≥ 2.1's option); L2, g ← g + λθ, when false (the default). */
  decoupledWeightDecay: boolean;
}

/**
 * The momentum schedule μ_t of NAdam and its running products Π_t = μ_1·…·μ_t, in float64 on the
 * host. Π_t depends on t alone, so it needs no saved state: the products are cached in the order
 * PyTorch multiplies them (Π_t = Π_{t−1}·μ_t), which gives the same float64 values.
 */
export class NAdamMomentum {
  private readonly products: number[] = [1];

  constructor(
    private readonly beta1: number,
    private readonly momentumDecay: number,
  ) {}

  mu(t: number): number {
    return this.beta1 * (1 - 0.5 * 0.96 ** (t * this.momentumDecay));
  }

  product(t: number): number {
    for (let i = this.products.length; i <= t; i++)
      this.products.push(this.products[i - 1]! * this.mu(i));
    return this.products[t]!;
  }

  /**
   * The step's two coefficients after update t: (1 − μ_t)/(1 − Π_t) on the gradient and
   * μ_{t+1}/(1 − Π_t·μ_{t+1}) on m (torch/optim/nadam.py after pytorch/pytorch#92699).
   */
  coefficients(t: number): { onGrad: number; onMomentum: number } {
    const prod = this.product(t);
    const next = this.mu(t + 1);
    return { onGrad: (1 - this.mu(t)) / (1 - prod), onMomentum: next / (1 - prod * next) };
  }
}

/**
 * NAdam exactly as today's `torch.optim.NAdam` (pytorch/pytorch torch/optim/nadam.py at
 * 00c2d88d579262aac44b17265a2c0828aea35b04, single-tensor path; not Debian's torch 1.13, which
 * counts μ_t twice in Π_{t+1}):
 * θ ← θ − η·(1−μ_t)/(1−Π_t)·g/d − η·μ_{t+1}/(1−Π_t·μ_{t+1})·m/d, d = √(v/(1−β2^t)) + ε.
 *
 * Direction (for prediction): the last update's step with its gradient term taken from m, since the
 * next gradient is not known before θ̂: [(1−μ_t)/(1−Π_t) + μ_{t+1}/(1−Π_t·μ_{t+1})]·m/d.
 *
 * The same math as single-pass loops (`kernels/fused/nadam.ts`) runs on the cpu and wasm backends.
 */
export function nadamRule(o: NAdamRuleOptions): Rule {
  const momentum = new NAdamMomentum(o.beta1, o.momentumDecay);
  const denominator = (v: tf.Tensor, t: number) =>
    v
      .div(1 - o.beta2 ** t)
      .sqrt()
      .add(o.epsilon);
  const rule: Rule = {
    slots: ['m', 'v'],
    decoupledWeightDecay: o.decoupledWeightDecay,
    update(theta, grad, state, ctx: UpdateContext) {
      const [m0, v0] = state as tf.Tensor[];
      const { theta: p, grad: g } = applyWeightDecay(theta, grad, ctx, o.decoupledWeightDecay);
      const m = m0!.mul(o.beta1).add(g.mul(1 - o.beta1));
      const v = v0!.mul(o.beta2).add(g.square().mul(1 - o.beta2));
      const d = denominator(v, ctx.step);
      const c = momentum.coefficients(ctx.step);
      const lr = ctx.learningRate;
      const next = p.sub(g.mul(lr * c.onGrad).div(d)).sub(m.mul(lr * c.onMomentum).div(d));
      return { theta: next, state: [m, v] };
    },
    direction(state, completed) {
      const [m, v] = state as tf.Tensor[];
      const c = momentum.coefficients(completed);
      return m!.mul(c.onGrad + c.onMomentum).div(denominator(v!, completed));
    },
  };
  return rule;
}
