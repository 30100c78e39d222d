import * as tf from '@tensorflow/tfjs';
import { rmspropFusedKernels } from '../kernels/fused/rmsprop.js';
import { rmspropRule, type RmspropRuleOptions } from '../rules/rmsprop.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface RMSpropOptions extends CommonOptions {
  /** Smoothing constant α, default 0.99. */
  alpha?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** μ, default 0. */
  momentum?: number;
  centered?: boolean;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'alpha', 'epsilon', 'momentum', 'centered'];

/**
 * RMSprop exactly as PyTorch's `torch.optim.RMSprop` (default learning rate 0.01, L2 weight decay),
 * with XGrad weight prediction along g/(√v + ε) (or the momentum buffer).
 */
export class RMSprop extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionRMSprop';
  readonly alpha: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(options: RMSpropOptions = {}) {
    const check = new OptionChecker('RMSprop', options, OPTIONS);
    const alpha = check.number('alpha', 0.99, { min: 0, below: 1 });
    const epsilon = check.number('epsilon', 1e-8, { min: 0 });
    const momentum = check.number('momentum', 0, { min: 0, max: 1 });
    const centered = check.boolean('centered', false);
    const common = resolveCommonOptions(check, { learningRate: 0.01, weightDecay: 0 }, false);
    const rule: RmspropRuleOptions = {
      alpha,
      epsilon,
      momentum,
      centered,
      keepLastGradient: common.prediction.steps > 0,
    };
    super(common, rmspropRule(rule), rmspropFusedKernels(rule));
    this.alpha = alpha;
    this.epsilon = epsilon;
    this.momentum = momentum;
    this.centered = centered;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return {
      alpha: this.alpha,
      epsilon: this.epsilon,
      momentum: this.momentum,
      centered: this.centered,
    };
  }
}
tf.serialization.registerClass(RMSprop);
