import { UserInputError } from '../errors.js';

/**
 * Learning-rate schedules as plain data, so an optimizer's config can be saved and loaded, plus a
 * pure function `(step) => lr`. `step` is the number of completed optimizer updates: update k
 * (1-based) uses `lr(k - 1)`, like PyTorch's `LambdaLR` stepped after every optimizer step.
 */
export type ScheduleSpec =
  | { kind: 'constant'; value: number }
  /** `initial · gamma^(number of milestones ≤ step)` (PyTorch `MultiStepLR`). */
  | { kind: 'step'; initial: number; milestones: number[]; gamma: number }
  /** `initial · gamma^step`. */
  | { kind: 'exponential'; initial: number; gamma: number }
  /** Cosine from `initial` to `final` over `totalSteps`, then `final` (PyTorch `CosineAnnealingLR`, one half period). */
  | { kind: 'cosine'; initial: number; totalSteps: number; final?: number }
  /** Linear warmup `then(0) · (step + 1) / warmupSteps`, then `then(step − warmupSteps)`. */
  | { kind: 'warmup'; warmupSteps: number; then: ScheduleSpec }
  /**
   * Schedule i runs for `boundaries[i−1] ≤ step < boundaries[i]`, counting its own steps from its
   * boundary (optax `join_schedules`).
   */
  | { kind: 'sequence'; schedules: ScheduleSpec[]; boundaries: number[] }
  /** An epoch-based schedule driven by update counts: `schedule(floor(step / stepsPerEpoch))`. */
  | { kind: 'perEpoch'; stepsPerEpoch: number; schedule: ScheduleSpec };

export type Schedule = (step: number) => number;

/** A learning rate as users give it: a number, a schedule spec, or any function of the step. */
export type LearningRate = number | ScheduleSpec | Schedule;

export const constant = (value: number): ScheduleSpec => ({ kind: 'constant', value });
export const stepDecay = (initial: number, milestones: number[], gamma = 0.1): ScheduleSpec => ({
  kind: 'step',
  initial,
  milestones,
  gamma,
});
export const exponentialDecay = (initial: number, gamma: number): ScheduleSpec => ({
  kind: 'exponential',
  initial,
  gamma,
});
export const cosineDecay = (initial: number, totalSteps: number, final = 0): ScheduleSpec => ({
  kind: 'cosine',
  initial,
  totalSteps,
  final,
});
export const linearWarmup = (warmupSteps: number, then: ScheduleSpec): ScheduleSpec => ({
  kind: 'warmup',
  warmupSteps,
  then,
});
export const sequence = (schedules: ScheduleSpec[], boundaries: number[]): ScheduleSpec => ({
  kind: 'sequence',
  schedules,
  boundaries,
});
export const perEpoch = (stepsPerEpoch: number, schedule: ScheduleSpec): ScheduleSpec => ({
  kind: 'perEpoch',
  stepsPerEpoch,
  schedule,
});

function fail(path: string, message: string): never {
  throw new UserInputError(`Invalid learning-rate schedule at ${path}: ${message}`);
}

function checkRate(path: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(path, `expected a finite learning rate >= 0, got ${String(value)}`);
  }
}

function checkCount(path: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(path, `expected an integer >= ${min}, got ${String(value)}`);
  }
}

function checkIncreasing(path: string, values: unknown): void {
  if (!Array.isArray(values)) fail(path, `expected an array of step counts`);
  values.forEach((v, i) => {
    checkCount(`${path}[${i}]`, v, 0);
    if (i > 0 && (v as number) <= (values[i - 1] as number)) {
      fail(path, `must be strictly increasing, got ${JSON.stringify(values)}`);
    }
  });
}

/** Throws a UserInputError naming the bad field when `spec` is not a valid schedule. */
export function validateSchedule(
  spec: unknown,
  path = 'learningRate',
): asserts spec is ScheduleSpec {
  if (spec === null || typeof spec !== 'object') fail(path, `expected a schedule object`);
  const s = spec as Record<string, unknown>;
  switch (s.kind) {
    case 'constant':
      return checkRate(`${path}.value`, s.value);
    case 'step':
      checkRate(`${path}.initial`, s.initial);
      checkIncreasing(`${path}.milestones`, s.milestones);
      return checkRate(`${path}.gamma`, s.gamma);
    case 'exponential':
      checkRate(`${path}.initial`, s.initial);
      return checkRate(`${path}.gamma`, s.gamma);
    case 'cosine':
      checkRate(`${path}.initial`, s.initial);
      checkCount(`${path}.totalSteps`, s.totalSteps, 1);
      if (s.final !== undefined) checkRate(`${path}.final`, s.final);
      return;
    case 'warmup':
      checkCount(`${path}.warmupSteps`, s.warmupSteps, 1);
      return validateSchedule(s.then, `${path}.then`);
    case 'sequence': {
      if (!Array.isArray(s.schedules) || s.schedules.length === 0) {
        fail(`${path}.schedules`, 'expected a non-empty array of schedules');
      }
      checkIncreasing(`${path}.boundaries`, s.boundaries);
      if ((s.boundaries as unknown[]).length !== s.schedules.length - 1) {
        fail(`${path}.boundaries`, 'needs exactly one boundary fewer than there are schedules');
      }
      s.schedules.forEach((child, i) => validateSchedule(child, `${path}.schedules[${i}]`));
      return;
    }
    case 'perEpoch':
      checkCount(`${path}.stepsPerEpoch`, s.stepsPerEpoch, 1);
      return validateSchedule(s.schedule, `${path}.schedule`);
    default:
      fail(
        `${path}.kind`,
        `unknown kind ${JSON.stringify(s.kind)}; use constant, step, exponential, cosine, warmup, sequence or perEpoch`,
      );
  }
}

/** The pure function of a validated spec. Evaluated in float64. */
export function compileSchedule(spec: ScheduleSpec): Schedule {
  validateSchedule(spec);
  return compileValidated(spec);
}

function compileValidated(spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case 'constant':
      return () => spec.value;
    case 'step':
      return (step) => spec.initial * spec.gamma ** spec.milestones.filter((m) => m <= step).length;
    case 'exponential':
      return (step) => spec.initial * spec.gamma ** step;
    case 'cosine': {
      const final = spec.final ?? 0;
      return (step) =>
        step >= spec.totalSteps
          ? final
          : final +
            ((spec.initial - final) * (1 + Math.cos((Math.PI * step) / spec.totalSteps))) / 2;
    }
    case 'warmup': {
      const then = compileValidated(spec.then);
      return (step) =>
        step < spec.warmupSteps
          ? (then(0) * (step + 1)) / spec.warmupSteps
          : then(step - spec.warmupSteps);
    }
    case 'sequence': {
      const parts = spec.schedules.map(compileValidated);
      return (step) => {
        let i = 0;
        while (i < spec.boundaries.length && step >= spec.boundaries[i]!) i++;
        const start = i === 0 ? 0 : spec.boundaries[i - 1]!;
        return parts[i]!(step - start);
      };
    }
    case 'perEpoch': {
      const inner = compileValidated(spec.schedule);
      return (step) => inner(Math.floor(step / spec.stepsPerEpoch));
    }
  }
}

/**
 * Turns what a user passed as `learningRate` into a schedule function, checking every value it
 * returns when used (a user function can return anything).
 */
export function resolveLearningRate(lr: LearningRate): Schedule {
  if (typeof lr === 'number') {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new UserInputError(
        `Invalid learningRate ${lr}: expected a finite number >= 0 (e.g. 1e-3), a schedule spec or a function of the step`,
      );
    }
    return () => lr;
  }
  if (typeof lr === 'function') {
    return (step) => {
      const value = lr(step);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new UserInputError(
          `The learningRate function returned ${String(value)} for step ${step}: it must return a finite number >= 0`,
        );
      }
      return value;
    };
  }
  return compileSchedule(lr);
}
