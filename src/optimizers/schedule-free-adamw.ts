import * as tf from '@tensorflow/tfjs';
import { scheduleFreeRule } from '../rules/schedule-free.js';
import { COMMON_OPTION_NAMES, resolveCommonOptions, WeightPredictionOptimizer } from './base.js';
import { OptionChecker, type CommonOptions } from './options.js';

export interface ScheduleFreeAdamWOptions extends CommonOptions {
  /** [β1, β2], default [0.9, 0.999]; β1 is the interpolation y = (1 − β1)·z + β1·x. */
  betas?: [number, number];
  /** Default 1e-8. */
  epsilon?: number;
  /** Linear warmup of the lr over this many updates (default 0). */
  warmupSteps?: number;
  /** Polynomial weighting (k+1)^r of the average (default 0). */
  r?: number;
  /** The average weighs each step by lrMax^weightLrPower (default 2). */
  weightLrPower?: number;
}

const OPTIONS = [...COMMON_OPTION_NAMES, 'betas', 'epsilon', 'warmupSteps', 'r', 'weightLrPower'];

/**
 * Schedule-Free AdamW (Defazio et al. 2024) exactly as facebookresearch/schedule_free's
 * `AdamWScheduleFree` (defaults lr 0.0025, λ 0 applied at y), without its train()/eval() switch:
 * outside `minimize` the variables hold x, the weights to evaluate and save (`model.evaluate`,
 * `model.predict`, `model.save` see x); `minimize` puts y = (1 − β1)·z + β1·x in them while the
 * gradient is taken and writes the new x.
 *
 * Batch normalisation: its running statistics are updated by the training forward passes, which run
 * at y, so they describe y's activations, not x's (schedule_free's own caveat). Before evaluating a
 * model with batch norm, recompute them at x (a few training-mode forward passes without updates).
 *
 * No weight prediction (`predictionSteps` > 0 is rejected): the gradient is already taken at y,
 * away from the weights being returned, and a second extrapolation on top would change the method.
 */
export class ScheduleFreeAdamW extends WeightPredictionOptimizer {
  static readonly className = 'WeightPredictionScheduleFreeAdamW';
  readonly betas: [number, number];
  readonly epsilon: number;
  readonly warmupSteps: number;
  readonly r: number;
  readonly weightLrPower: number;

  constructor(options: ScheduleFreeAdamWOptions = {}) {
    const check = new OptionChecker('ScheduleFreeAdamW', options, OPTIONS);
    const betas = check.betas([0.9, 0.999]);
    const epsilon = check.number('epsilon', 1e-8, { min: 0 });
    const warmupSteps = check.integer('warmupSteps', 0, 0);
    const r = check.number('r', 0, { min: 0 });
    const weightLrPower = check.number('weightLrPower', 2, { min: 0 });
    const common = resolveCommonOptions(check, { learningRate: 0.0025, weightDecay: 0 }, false);
    super(
      common,
      scheduleFreeRule({
        beta1: betas[0],
        beta2: betas[1],
        epsilon,
        warmupSteps,
        r,
        weightLrPower,
      }),
    );
    this.betas = betas;
    this.epsilon = epsilon;
    this.warmupSteps = warmupSteps;
    this.r = r;
    this.weightLrPower = weightLrPower;
  }

  protected ruleConfig(): tf.serialization.ConfigDict {
    return {
      betas: [...this.betas],
      epsilon: this.epsilon,
      warmupSteps: this.warmupSteps,
      r: this.r,
      weightLrPower: this.weightLrPower,
    };
  }
}
tf.serialization.registerClass(ScheduleFreeAdamW);
