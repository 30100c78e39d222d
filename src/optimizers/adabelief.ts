import * as tf from '@tensorflow/tfjs';
import { adaBeliefFusedKernels } from '../kernels/fused/adabelief.js';
import { adaBeliefRule, type AdaBeliefRuleOptions } from '../rules/adabelief.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface AdaBeliefOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-16, the authors' (adabelief-pytorch 0.2.0). */
  epsilon?: number;
  amsgrad?: boolean;
  /** Decoupled (AdamW-style) weight decay when true (default), L2 added to the gradient when false. */
  decoupledWeightDecay?: boolean;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'betas', 'epsilon', 'amsgrad', 'decoupledWeightDecay'];

/**
 * AdaBelief (Zhuang et al., NeurIPS 2020) as the authors' adabelief-pytorch 0.2.0 without
 * rectification, with XGrad weight prediction along m̂/(√ŝ + ε) when `predictionSteps` > 0.
 */
export class AdaBelief extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionAdaBelief';
  readonly betas: [number, number];
  readonly epsilon: number;
  readonly amsgrad: boolean;
  readonly decoupledWeightDecay: boolean;

  constructor(options: AdaBeliefOptions = {}) {
    const check = new OptionChecker('AdaBelief', options, OPTIONS);
    const betas = check.betas([0.9, 0.999]);
    const epsilon = check.number('epsilon', 1e-16, { min: 0 });
    const amsgrad = check.boolean('amsgrad', false);
    const decoupledWeightDecay = check.boolean('decoupledWeightDecay', true);
    const common = resolveCommonOptions(
      check,
      { learningRate: 1e-3, weightDecay: 0 },
      decoupledWeightDecay,
    );
    const rule: AdaBeliefRuleOptions = {
      beta1: betas[0],
      beta2: betas[1],
      epsilon,
      amsgrad,
      decoupledWeightDecay,
    };
    super(common, adaBeliefRule(rule), adaBeliefFusedKernels(rule));
    this.betas = betas;
    this.epsilon = epsilon;
    this.amsgrad = amsgrad;
    this.decoupledWeightDecay = decoupledWeightDecay;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return {
      betas: [...this.betas],
      epsilon: this.epsilon,
      amsgrad: this.amsgrad,
      decoupledWeightDecay: this.decoupledWeightDecay,
    };
  }
}
tf.serialization.registerClass(AdaBelief);
