#!/usr/bin/env node
import '../node.js'; // the Node entry: registers the native addon
import { readFileSync } from 'node:fs';
import { RunDivergedError, UserInputError } from '../errors.js';
import { NonFiniteGradientError } from '../optimizers/index.js';
import { buildProgram } from './program.js';

/** Exit status of an error this program did not foresee (sysexits' EX_SOFTWARE). */
const EXIT_BUG = 70;

/** Where to report a bug: package.json's `bugs` (a URL or { url }), else a generic pointer. */
function bugTracker(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { bugs?: string | { url?: string } };
    const url = typeof pkg.bugs === 'string' ? pkg.bugs : pkg.bugs?.url;
    if (url) return url;
  } catch {
    // No readable package.json next to the sources: fall back to the generic pointer.
  }
  return "the project's issue tracker";
}

const verbose =
  process.argv.slice(2).includes('--verbose') || process.env.WEIGHT_PREDICTION_DEBUG === '1';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // A user error, or a run that diverged, is one line and a non-zero exit, never a stack trace.
  if (
    error instanceof UserInputError ||
    error instanceof NonFiniteGradientError ||
    error instanceof RunDivergedError
  ) {
    process.stderr.write(`weight-prediction: ${error.message}\n`);
    process.exit(error instanceof UserInputError ? 2 : 3);
  }
  // Anything else is a bug: one line and where to report it; the stack only when asked for. Exit
  // here rather than rethrow: TF.js's wasm backend turns a rethrown error into a dump of its source.
  const summary =
    error instanceof Error
      ? `${error.name}: ${error.message}`
      : `non-error thrown: ${String(error)}`;
  process.stderr.write(
    `weight-prediction: unexpected error (${summary.split('\n')[0]}); this is a bug, report it at ${bugTracker()} with the command line${verbose ? '' : ' and the output of a rerun with --verbose (or WEIGHT_PREDICTION_DEBUG=1)'}\n`,
  );
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(EXIT_BUG);
}
