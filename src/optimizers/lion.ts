import * as tf from '@tensorflow/tfjs';
import { lionFusedKernels } from '../kernels/fused/lion.js';
import { lionRule } from '../rules/lion.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface LionOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.99]. */
  betas?: [number, number];
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'betas'];

/**
 * Lion (Chen et al. 2023) exactly as lucidrains/lion-pytorch: the sign of an interpolated momentum,
 * decoupled weight decay. Defaults are lion-pytorch's (lr 1e-4, λ 0); its README advises an lr 3–10×
 * smaller than AdamW's and a λ 3–10× larger. With `predictionSteps` > 0, θ̂ = θ − s·η·sign(m).
 */
export class Lion extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionLion';
  readonly betas: [number, number];

  constructor(options: LionOptions = {}) {
    const check = new OptionChecker('Lion', options, OPTIONS);
    const betas = check.betas([0.9, 0.99]);
    const common = resolveCommonOptions(check, { learningRate: 1e-4, weightDecay: 0 }, true);
    const rule = { beta1: betas[0], beta2: betas[1] };
    super(common, lionRule(rule), lionFusedKernels(rule));
    this.betas = betas;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return { betas: [...this.betas] };
  }
}
tf.serialization.registerClass(Lion);
