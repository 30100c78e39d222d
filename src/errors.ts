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
