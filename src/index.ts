/**
 * weight-prediction: weight prediction (Guan, PAKDD 2023; XGrad) for TensorFlow.js.
 *
 * The optimizers are drop-in `tf.Optimizer`s: use them with `model.compile({optimizer})` +
 * `model.fit`, or in a custom loop with `optimizer.minimize(() => loss)`.
 */
export {
  AdaBelief,
  Adam,
  AdamW,
  BIAS_AND_NORMALIZATION,
  createOptimizer,
  Lion,
  Lookahead,
  NAdam,
  NonFiniteGradientError,
  NO_PREDICTION,
  OPTIMIZER_NAMES,
  RMSprop,
  ScheduleFreeAdamW,
  SGD,
  WeightPredictionOptimizer,
} from './optimizers/index.js';
export type {
  AdaBeliefOptions,
  AdamOptions,
  AdamWOptions,
  CommonOptions,
  LionOptions,
  LookaheadOptions,
  NAdamOptions,
  OptimizerKernel,
  OptimizerName,
  PackageOptimizer,
  RMSpropOptions,
  ScheduleFreeAdamWOptions,
  SGDOptions,
  WeightDecayExclusion,
} from './optimizers/index.js';
export {
  compileSchedule,
  constant,
  cosineDecay,
  exponentialDecay,
  linearWarmup,
  perEpoch,
  sequence,
  stepDecay,
  type LearningRate,
  type Schedule,
  type ScheduleSpec,
} from './schedules/index.js';
export { RunDivergedError, UserInputError } from './errors.js';
export { describeBackend, selectBackend, type BackendPreference } from './kernels/backend.js';
// The training toolkit lives in subpaths: 'weight-prediction/data', '/models', '/training',
// '/report' and '/kernels'.
