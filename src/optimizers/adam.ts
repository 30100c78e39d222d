import * as tf from '@tensorflow/tfjs';
import { adamFusedKernels } from '../kernels/fused/adam.js';
import { adamRule } from '../rules/adam.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface AdamOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8 (PyTorch's). */
  epsilon?: number;
  amsgrad?: boolean;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'betas', 'epsilon', 'amsgrad'];

/**
 * Adam exactly as PyTorch's `torch.optim.Adam`: weight decay (default 0) is L2 added to the
 * gradient. With `predictionSteps` > 0 it predicts along m̂/(√v̂ + ε) (XGrad).
 */
export class Adam extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionAdam';
  readonly betas: [number, number];
  readonly epsilon: number;
  readonly amsgrad: boolean;

  constructor(options: AdamOptions = {}) {
    const check = new OptionChecker('Adam', options, OPTIONS);
    const betas = check.betas([0.9, 0.999]);
    const epsilon = check.number('epsilon', 1e-8, { min: 0 });
    const amsgrad = check.boolean('amsgrad', false);
    const common = resolveCommonOptions(check, { learningRate: 1e-3, weightDecay: 0 }, false);
    const rule = {
      beta1: betas[0],
      beta2: betas[1],
      epsilon,
      amsgrad,
      decoupledWeightDecay: false,
    };
    super(common, adamRule(rule), adamFusedKernels(rule));
    this.betas = betas;
    this.epsilon = epsilon;
    this.amsgrad = amsgrad;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return { betas: [...this.betas], epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}
tf.serialization.registerClass(Adam);
