import { AdaBelief, type AdaBeliefOptions } from './adabelief.js';
import { Adam, type AdamOptions } from './adam.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import { Lion, type LionOptions } from './lion.js';
import { Lookahead, type LookaheadOptions } from './lookahead.js';
import { NAdam, type NAdamOptions } from './nadam.js';
import { RMSprop, type RMSpropOptions } from './rmsprop.js';
import { ScheduleFreeAdamW, type ScheduleFreeAdamWOptions } from './schedule-free-adamw.js';
import { SGD, type SGDOptions } from './sgd.js';
import { UserInputError } from '../errors.js';
import type { WeightPredictionOptimizer } from './base.js';

export { AdaBelief, Adam, AdamW, Lion, Lookahead, NAdam, RMSprop, ScheduleFreeAdamW, SGD };
export type {
  AdaBeliefOptions,
  AdamOptions,
  AdamWOptions,
  LionOptions,
  LookaheadOptions,
  NAdamOptions,
  RMSpropOptions,
  ScheduleFreeAdamWOptions,
  SGDOptions,
};
export { NonFiniteGradientError, WeightPredictionOptimizer, type OptimizerKernel } from './base.js';
export {
  BIAS_AND_NORMALIZATION,
  type CommonOptions,
  type WeightDecayExclusion,
} from './options.js';

export const OPTIMIZER_NAMES = [
  'adamw',
  'adam',
  'sgd',
  'rmsprop',
  'adabelief',
  'nadam',
  'lion',
  'schedule-free-adamw',
  'lookahead-adamw',
] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerOptionsByName {
  adamw: AdamWOptions;
  adam: AdamOptions;
  sgd: SGDOptions;
  rmsprop: RMSpropOptions;
  adabelief: AdaBeliefOptions;
  nadam: NAdamOptions;
  lion: LionOptions;
  'schedule-free-adamw': ScheduleFreeAdamWOptions;
  /** AdamW's options plus Lookahead's `k` and `alpha`. */
  'lookahead-adamw': AdamWOptions & Omit<LookaheadOptions, 'optimizer'>;
}

/**
 * The optimizers without weight prediction (`predictionSteps` > 0 is rejected). Lookahead's
 * `predictionSteps` is its inner optimizer's.
 */
export const NO_PREDICTION: readonly OptimizerName[] = ['schedule-free-adamw'];

/** What `createOptimizer` returns: Lookahead wraps a package optimizer. */
export type PackageOptimizer = WeightPredictionOptimizer | Lookahead;

/** Builds an optimizer from its lower-case name (as the CLI and configs spell it). */
export function createOptimizer<N extends OptimizerName>(
  name: N,
  options?: OptimizerOptionsByName[N],
): N extends 'lookahead-adamw' ? Lookahead : WeightPredictionOptimizer;
export function createOptimizer(name: OptimizerName, options: object = {}): PackageOptimizer {
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
    case 'nadam':
      return new NAdam(options as NAdamOptions);
    case 'lion':
      return new Lion(options as LionOptions);
    case 'schedule-free-adamw':
      return new ScheduleFreeAdamW(options as ScheduleFreeAdamWOptions);
    case 'lookahead-adamw': {
      const { k, alpha, ...rest } = options as AdamWOptions & Omit<LookaheadOptions, 'optimizer'>;
      // Validate the wrapper's own options before building the inner optimizer, which could leak.
      const inner = new AdamW(rest);
      try {
        return new Lookahead({
          optimizer: inner,
          ...(k !== undefined && { k }),
          ...(alpha !== undefined && { alpha }),
        });
      } catch (error) {
        inner.dispose();
        throw error;
      }
    }
    default:
      throw new UserInputError(
        `Unknown optimizer "${String(name)}"; choose one of ${OPTIMIZER_NAMES.join(', ')}`,
      );
  }
}
