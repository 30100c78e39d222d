import * as tf from '@tensorflow/tfjs';
import { nadamFusedKernels } from '../kernels/fused/nadam.js';
import { nadamRule } from '../rules/nadam.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface NAdamOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  epsilon?: number;
  /** ψ in μ_t = β1·(1 − ½·0.96^(t·ψ)), default 4e-3 (PyTorch's). */
  momentumDecay?: number;
  /** θ ← θ·(1 − ηλ) when true (torch ≥ 2.1's option); L2 added to the gradient when false (default). */
  decoupledWeightDecay?: boolean;
}

const OPTIONS = [
  ...COMMON_OPTION_NAMES,
  'betas',
  'epsilon',
  'momentumDecay',
  'decoupledWeightDecay',
];

/**
 * NAdam (Dozat 2016) exactly as today's `torch.optim.NAdam` (default lr 2e-3, λ 0), with weight
 * prediction along its update direction with the gradient term taken from m when
 * `predictionSteps` > 0 (rules/nadam.ts).
 */
export class NAdam extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionNAdam';
  readonly betas: [number, number];
  readonly epsilon: number;
  readonly momentumDecay: number;
  readonly decoupledWeightDecay: boolean;

  constructor(options: NAdamOptions = {}) {
    const check = new OptionChecker('NAdam', options, OPTIONS);
    const betas = check.betas([0.9, 0.999]);
    const epsilon = check.number('epsilon', 1e-8, { min: 0 });
    const momentumDecay = check.number('momentumDecay', 4e-3, { min: 0 });
    const decoupledWeightDecay = check.boolean('decoupledWeightDecay', false);
    const common = resolveCommonOptions(
      check,
      { learningRate: 2e-3, weightDecay: 0 },
      decoupledWeightDecay,
    );
    const rule = { beta1: betas[0], beta2: betas[1], epsilon, momentumDecay, decoupledWeightDecay };
    super(common, nadamRule(rule), nadamFusedKernels(rule));
    this.betas = betas;
    this.epsilon = epsilon;
    this.momentumDecay = momentumDecay;
    this.decoupledWeightDecay = decoupledWeightDecay;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return {
      betas: [...this.betas],
      epsilon: this.epsilon,
      momentumDecay: this.momentumDecay,
      decoupledWeightDecay: this.decoupledWeightDecay,
    };
  }
}
tf.serialization.registerClass(NAdam);
