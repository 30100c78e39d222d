#!/usr/bin/env node
import { UserInputError } from '../errors.js';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof UserInputError) {
    // A user error is one line and a non-zero exit, never a stack trace.
    process.stderr.write(`weight-prediction: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
