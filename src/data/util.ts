import { existsSync, statSync } from 'node:fs';
import { UserInputError } from '../errors.js';

/** `{trainLimit, testLimit}`: keep only the first N examples of a split (handy for quick runs). */
export interface SplitLimits {
  /** Keep the first `trainLimit` training examples (all when omitted or larger than the split). */
  trainLimit?: number;
  /** Keep the first `testLimit` test examples (all when omitted or larger than the split). */
  testLimit?: number;
}

/** The number of examples to keep: `available`, or `limit` when it is smaller. */
export function applyLimit(limit: number | undefined, available: number, name: string): number {
  if (limit === undefined) return available;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UserInputError(`${name} must be a positive integer, got ${String(limit)}`);
  }
  return Math.min(limit, available);
}

/** Throws a UserInputError unless `dir` is an existing folder; `hint` says how to get one. */
export function requireDir(dir: string, what: string, hint: string): void {
  if (!existsSync(dir)) throw new UserInputError(`${what} folder not found: ${dir}. ${hint}`);
  if (!statSync(dir).isDirectory()) {
    throw new UserInputError(`${what} path is not a folder: ${dir}. ${hint}`);
  }
}
