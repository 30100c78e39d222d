import { AdaBelief, type AdaBeliefOptions } from './adabelief.js';
import { Adam, type AdamOptions } from './adam.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import { RMSprop, type RMSpropOptions } from './rmsprop.js';
import { SGD, type SGDOptions } from './sgd.js';
import { UserInputError } from '../errors.js';
import type { WeightPredictionOptimizer } from './base.js';

export { AdaBelief, Adam, AdamW, RMSprop, SGD };
export type { AdaBeliefOptions, AdamOptions, AdamWOptions, RMSpropOptions, SGDOptions };
export { NonFiniteGradientError, WeightPredictionOptimizer, type OptimizerKernel } from './base.js';
export {
  BIAS_AND_NORMALIZATION,
  type CommonOptions,
  type WeightDecayExclusion,
} from './options.js';

export const OPTIMIZER_NAMES = ['adamw', 'adam', 'sgd', 'rmsprop', 'adabelief'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerOptionsByName {
  adamw: AdamWOptions;
  adam: AdamOptions;
  sgd: SGDOptions;
  rmsprop: RMSpropOptions;
  adabelief: AdaBeliefOptions;
}

/** Builds an optimizer from its lower-case name (as the CLI and configs spell it). */
export function createOptimizer<N extends OptimizerName>(
  name: N,
  options: OptimizerOptionsByName[N] = {},
): WeightPredictionOptimizer {
  switch (name) {
    case 'adamw':
      return new AdamW(options as AdamWOptions);
    case 'adam':
      return new Adam(options as AdamOptions);
    case 'sgd':
      return new SGD(options as SGDOptions);
    case 'rmsprop':
      return new RMSprop(options as RMSpropOptions);
    case 'adabelief':
      return new AdaBelief(options as AdaBeliefOptions);
    default:
      throw new UserInputError(
        `Unknown optimizer "${String(name)}"; choose one of ${OPTIMIZER_NAMES.join(', ')}`,
      );
  }
}
