import * as tf from '@tensorflow/tfjs';
import { adamFusedKernels } from '../kernels/fused/adam.js';
import { adamRule } from '../rules/adam.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface AdamWOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8 (PyTorch's; TF.js's own Adam uses 1e-7). */
  epsilon?: number;
  amsgrad?: boolean;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'betas', 'epsilon', 'amsgrad'];

/**
 * AdamW exactly as PyTorch's `torch.optim.AdamW` (decoupled weight decay, default λ = 1e-2), with
 * weight prediction when `predictionSteps` > 0 (Guan, PAKDD 2023).
 *
 * ```ts
 * new AdamW({ learningRate: 1e-3, weightDecay: 1e-2, predictionSteps: 1 })
 * ```
 */
export class AdamW extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionAdamW';
  readonly betas: [number, number];
  readonly epsilon: number;
  readonly amsgrad: boolean;

  constructor(options: AdamWOptions = {}) {
    const check = new OptionChecker('AdamW', options, OPTIONS);
    const betas = check.betas([0.9, 0.999]);
    const epsilon = check.number('epsilon', 1e-8, { min: 0 });
    const amsgrad = check.boolean('amsgrad', false);
    const common = resolveCommonOptions(check, { learningRate: 1e-3, weightDecay: 1e-2 }, true);
    const rule = { beta1: betas[0], beta2: betas[1], epsilon, amsgrad, decoupledWeightDecay: true };
    super(common, adamRule(rule), adamFusedKernels(rule));
    this.betas = betas;
    this.epsilon = epsilon;
    this.amsgrad = amsgrad;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return { betas: [...this.betas], epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}
tf.serialization.registerClass(AdamW);
