import { UserInputError } from '../errors.js';

/** Throws a UserInputError unless `seed` is a non-negative safe integer. */
export function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UserInputError(`${what} must be a non-negative integer, got ${seed}; pass e.g. 42`);
  }
}

export { checkPositiveInt } from '../errors.js';

/** Throws a UserInputError unless 0 <= rate < 1. */
export function checkRate(rate: number, what: string): void {
  if (!Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new UserInputError(`${what} must be in [0, 1), got ${rate}`);
  }
}

/** Throws a UserInputError unless `shape` is a non-empty list of positive integers. */
export function checkShape(shape: readonly number[], what: string): void {
  if (
    !Array.isArray(shape) ||
    shape.length === 0 ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 1)
  ) {
    throw new UserInputError(
      `${what} must be a non-empty list of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
}
