import * as tf from '@tensorflow/tfjs';
import { sgdFusedKernels } from '../kernels/fused/sgd.js';
import { sgdRule, type SgdRuleOptions } from '../rules/sgd.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface SGDOptions extends CommonOptions {
  /** μ, default 0. */
  momentum?: number;
  /** τ, default 0. */
  dampening?: number;
  nesterov?: boolean;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'momentum', 'dampening', 'nesterov'];

/**
 * SGD exactly as PyTorch's `torch.optim.SGD` (momentum, dampening, Nesterov, L2 weight decay),
 * with XGrad weight prediction along the momentum buffer (or the last gradient without momentum).
 * Default learning rate 0.01.
 */
export class SGD extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionSGD';
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  constructor(options: SGDOptions = {}) {
    const check = new OptionChecker('SGD', options, OPTIONS);
    const momentum = check.number('momentum', 0, { min: 0, max: 1 });
    const dampening = check.number('dampening', 0, { min: 0, max: 1 });
    const nesterov = check.boolean('nesterov', false);
    check.require(
      !nesterov || (momentum > 0 && dampening === 0),
      `nesterov requires momentum > 0 and dampening 0 (got momentum ${momentum}, dampening ${dampening})`,
    );
    const common = resolveCommonOptions(check, { learningRate: 0.01, weightDecay: 0 }, false);
    const rule: SgdRuleOptions = {
      momentum,
      dampening,
      nesterov,
      keepLastGradient: common.prediction.steps > 0,
    };
    super(common, sgdRule(rule), sgdFusedKernels(rule));
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov };
  }
}
tf.serialization.registerClass(SGD);
