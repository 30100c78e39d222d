/**
 * An error caused by what the user asked for (a bad path, flag, option or file), as opposed to a
 * bug. Its message names the bad value and says how to fix it; the CLI prints it on one line and
 * exits non-zero without a stack trace.
 */
export class UserInputError extends Error {
  override name = 'UserInputError';
}

/** Throws a UserInputError unless `value` is an integer >= 1 (batch sizes, counts, widths). */
export function checkPositiveInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UserInputError(`${what} must be a positive integer, got ${String(value)}`);
  }
}

const NON_FINITE_MARK = '\u2063non-finite:';

/**
 * A value as a message shows it: JSON, except that NaN and ±Infinity (which JSON turns into
 * `null`) are written as such, also inside arrays and objects; functions and symbols by String().
 */
export function describeValue(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? `${NON_FINITE_MARK}${v}` : v,
  ) as string | undefined;
  if (json === undefined) return String(value);
  return json.replace(new RegExp(`"${NON_FINITE_MARK}(-?Infinity|NaN)"`, 'g'), '$1');
}

/**
 * A training run whose metrics went non-finite (NaN or ±Infinity): its weights are of no use, so
 * it stops, records why in the run folder (diverged.json) and the CLI exits non-zero.
 */
export class RunDivergedError extends Error {
  override name = 'RunDivergedError';
}
