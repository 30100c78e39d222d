#!/usr/bin/env node
import '../node.js'; // the Node entry: registers the native addon
import { UserInputError } from '../errors.js';
import { NonFiniteGradientError } from '../optimizers/index.js';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // A user error, or a run that diverged, is one line and a non-zero exit, never a stack trace.
  if (error instanceof UserInputError || error instanceof NonFiniteGradientError) {
    process.stderr.write(`weight-prediction: ${error.message}\n`);
    process.exit(error instanceof UserInputError ? 2 : 3);
  }
  throw error;
}
