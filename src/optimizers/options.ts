import { UserInputError } from '../errors.js';
import { validateSchedule, type LearningRate } from '../schedules/index.js';

/** Which variables weight decay skips: name patterns (regular expressions) or a predicate. */
export type WeightDecayExclusion = RegExp | string | string[] | ((variableName: string) => boolean);

/** A preset for the usual choice: biases and normalisation parameters (gamma/beta) are not decayed. */
export const BIAS_AND_NORMALIZATION = /(bias|gamma|beta)$/;

/** Options every optimizer of this package takes. */
export interface CommonOptions {
  /** A number, a schedule spec (see schedules) or a function of the number of completed updates. */
  learningRate?: LearningRate;
  /** λ; its meaning (decoupled or L2) is the optimizer's. */
  weightDecay?: number;
  excludeFromWeightDecay?: WeightDecayExclusion;
  /** Scale all gradients together so their global L2 norm is at most this (torch `clip_grad_norm_`). */
  clipGlobalNorm?: number;
  /**
   * What to do with a NaN or ±Infinity gradient: `'throw'` (default) raises an error naming the
   * variables and leaves weights and state untouched; `'skip'` skips that update and counts it in
   * `skippedUpdates`. Either way nothing non-finite is written into the weights.
   */
  nonFiniteGradients?: 'throw' | 'skip';
  /** s, the number of steps to predict ahead (0, the default, is the plain base optimizer). */
  predictionSteps?: number;
  /** Include the decoupled weight decay in the prediction (decoupled-decay optimizers only). */
  includeWeightDecay?: boolean;
  /** For s > 1, predict with each of the next s scheduled learning rates instead of s × the next. */
  scheduleAware?: boolean;
}

export const COMMON_OPTION_NAMES = [
  'learningRate',
  'weightDecay',
  'excludeFromWeightDecay',
  'clipGlobalNorm',
  'nonFiniteGradients',
  'predictionSteps',
  'includeWeightDecay',
  'scheduleAware',
] as const;

/** Validates option values for one optimizer class, with messages that name the class and option. */
export class OptionChecker {
  constructor(
    private readonly className: string,
    private readonly options: object,
    allowed: readonly string[],
  ) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new UserInputError(`${className}: expected one options object, got ${String(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!allowed.includes(key)) {
        throw new UserInputError(
          `${className}: unknown option "${key}"; valid options are ${allowed.join(', ')}`,
        );
      }
    }
  }

  private fail(name: string, value: unknown, expected: string): never {
    throw new UserInputError(
      `${this.className}: invalid ${name} ${JSON.stringify(value) ?? String(value)}: expected ${expected}`,
    );
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  private get(name: string): unknown {
    return (this.options as Record<string, unknown>)[name];
  }

  /** A finite number within [min, max] (or below `below` when given), else the default. */
  number(
    name: string,
    fallback: number,
    range: { min?: number; max?: number; below?: number; hint?: string },
  ): number {
    const value = this.get(name) ?? fallback;
    const { min = -Infinity, max = Infinity, below = Infinity, hint = '' } = range;
    const describe = [
      min > -Infinity ? `>= ${min}` : '',
      max < Infinity ? `<= ${max}` : '',
      below < Infinity ? `< ${below}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      value >= below
    ) {
      this.fail(name, value, `a finite number ${describe}${hint}`);
    }
    return value;
  }

  integer(name: string, fallback: number, min: number, max = Infinity): number {
    const value = this.get(name) ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(
        name,
        value,
        max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
      );
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.get(name) ?? fallback;
    if (typeof value !== 'boolean') this.fail(name, value, 'true or false');
    return value;
  }

  betas(fallback: [number, number]): [number, number] {
    const value = this.get('betas') ?? fallback;
    if (!Array.isArray(value) || value.length !== 2) {
      this.fail('betas', value, 'two numbers [beta1, beta2], e.g. [0.9, 0.999]');
    }
    value.forEach((beta, i) => {
      if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
        this.fail(`betas[${i}]`, beta, 'a number in [0, 1), e.g. 0.9 or 0.999');
      }
    });
    return [value[0], value[1]];
  }

  learningRate(fallback: number): LearningRate {
    const value = this.get('learningRate') ?? fallback;
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || value < 0) {
        this.fail(
          'learningRate',
          value,
          'a finite number >= 0 (e.g. 1e-3), a schedule or a function',
        );
      }
    } else if (typeof value === 'object') {
      validateSchedule(value);
    } else if (typeof value !== 'function') {
      this.fail('learningRate', value, 'a number, a schedule spec or a function of the step');
    }
    return value as LearningRate;
  }

  exclusion(): WeightDecayExclusion | undefined {
    const value = this.get('excludeFromWeightDecay');
    if (value === undefined) return undefined;
    const ok =
      value instanceof RegExp ||
      typeof value === 'string' ||
      typeof value === 'function' ||
      (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    if (!ok) {
      this.fail(
        'excludeFromWeightDecay',
        value,
        'a RegExp, a pattern string, an array of pattern strings or a function (name) => boolean',
      );
    }
    const patterns = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
    for (const pattern of patterns) {
      try {
        new RegExp(pattern);
      } catch {
        this.fail('excludeFromWeightDecay', pattern, 'a valid regular expression');
      }
    }
    return value as WeightDecayExclusion;
  }

  oneOf<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const value = this.get(name) ?? fallback;
    if (!choices.includes(value as T)) {
      this.fail(name, value, `one of ${choices.map((c) => `'${c}'`).join(', ')}`);
    }
    return value as T;
  }

  /** Throws unless `condition` holds; `message` completes "ClassName: ...". */
  require(condition: boolean, message: string): void {
    if (!condition) throw new UserInputError(`${this.className}: ${message}`);
  }
}

/** Compiles an exclusion into a predicate on variable names. */
export function exclusionPredicate(
  exclusion: WeightDecayExclusion | undefined,
): (name: string) => boolean {
  if (exclusion === undefined) return () => false;
  if (typeof exclusion === 'function') return exclusion;
  if (exclusion instanceof RegExp) {
    const re = new RegExp(exclusion.source, exclusion.flags.replace('g', ''));
    return (name) => re.test(name);
  }
  const res = (Array.isArray(exclusion) ? exclusion : [exclusion]).map((p) => new RegExp(p));
  return (name) => res.some((re) => re.test(name));
}

/*
 * tfjs-layers camel-cases every string containing "_" when it loads an optimizer config, which
 * would corrupt patterns such as "batch_norm". Patterns are therefore stored base64-encoded (an
 * alphabet without "_").
 */
interface EncodedExclusion {
  encoding: 'base64';
  patterns: string[];
  flags: string;
}

export function encodeExclusion(
  className: string,
  exclusion: WeightDecayExclusion | undefined,
): EncodedExclusion | undefined {
  if (exclusion === undefined) return undefined;
  if (typeof exclusion === 'function') {
    throw new UserInputError(
      `${className}.getConfig(): excludeFromWeightDecay is a function, which cannot be saved; use a RegExp or pattern strings to save this optimizer`,
    );
  }
  const toBase64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  if (exclusion instanceof RegExp) {
    return { encoding: 'base64', patterns: [toBase64(exclusion.source)], flags: exclusion.flags };
  }
  const list = Array.isArray(exclusion) ? exclusion : [exclusion];
  return { encoding: 'base64', patterns: list.map(toBase64), flags: '' };
}

export function decodeExclusion(value: unknown): WeightDecayExclusion | undefined {
  if (value === undefined || value === null) return undefined;
  const encoded = value as EncodedExclusion;
  if (encoded.encoding !== 'base64' || !Array.isArray(encoded.patterns)) {
    throw new UserInputError(
      `Invalid saved excludeFromWeightDecay ${JSON.stringify(value)}: expected {encoding: 'base64', patterns, flags}`,
    );
  }
  const patterns = encoded.patterns.map((p) => Buffer.from(p, 'base64').toString('utf8'));
  if (encoded.flags) return new RegExp(patterns[0] ?? '', encoded.flags);
  return patterns;
}
