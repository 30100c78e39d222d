/**
 * A race's settings and their URL form, so that a race can be shared by its link:
 * `?task=rosenbrock&backend=wasm&seed=1&steps=300&run=adamw,s=1,lr=0.05&run=adamw,s=0,lr=0.05`.
 * Parsing collects every problem with the setting it concerns, why, and how to fix it.
 */
import { NO_PREDICTION, OPTIMIZER_NAMES, type OptimizerName } from 'weight-prediction';

export const FUNCTION_TASKS = ['rosenbrock', 'beale', 'saddle', 'noisy-quadratic'] as const;
export const TASKS = [...FUNCTION_TASKS, 'mnist'] as const;
export type FunctionTask = (typeof FUNCTION_TASKS)[number];
export type Task = (typeof TASKS)[number];

/** Backends the page can run on, in fallback order. */
export const BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface RunSettings {
  optimizer: OptimizerName;
  /** Weight-prediction steps s (0: the plain optimizer). */
  predictionSteps: number;
  learningRate: number;
  weightDecay: number;
}

export interface RaceSettings {
  task: Task;
  backend: Backend;
  seed: number;
  steps: number;
  /** MNIST minibatch size. */
  batchSize: number;
  runs: RunSettings[];
}

export const MAX_RUNS = 6;
export const MAX_STEPS = 100_000;

/** Learning rates that make each task's race worth watching with the Adam family. */
export const DEFAULT_LEARNING_RATE: Record<Task, number> = {
  rosenbrock: 0.05,
  beale: 0.05,
  saddle: 0.05,
  'noisy-quadratic': 0.05,
  mnist: 0.002,
};

export function defaultSettings(): RaceSettings {
  return {
    task: 'rosenbrock',
    backend: 'wasm',
    seed: 1,
    steps: 300,
    batchSize: 64,
    runs: [
      { optimizer: 'adamw', predictionSteps: 0, learningRate: 0.05, weightDecay: 0 },
      { optimizer: 'adamw', predictionSteps: 1, learningRate: 0.05, weightDecay: 0 },
      { optimizer: 'rmsprop', predictionSteps: 1, learningRate: 0.01, weightDecay: 0 },
    ],
  };
}

export type ParseResult = { ok: true; settings: RaceSettings } | { ok: false; errors: string[] };

const RUN_KEYS = ['s', 'lr', 'wd'] as const;

function parseNumber(text: string): number {
  // Number('') is 0 and Number(' 1') is 1: only plain decimal literals count.
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN;
}

/** Parses the settings from a URL query (`location.search`); absent settings take defaults. */
export function parseSettings(query: string): ParseResult {
  const params = new URLSearchParams(query);
  const defaults = defaultSettings();
  const errors: string[] = [];

  const known = new Set(['task', 'backend', 'seed', 'steps', 'batch', 'run']);
  for (const key of new Set(params.keys())) {
    if (!known.has(key)) {
      errors.push(`Unknown setting '${key}' in the URL: use ${[...known].join(', ')}.`);
    }
  }

  const oneOf = <T extends string>(key: string, choices: readonly T[], fallback: T): T => {
    const value = params.get(key);
    if (value === null) return fallback;
    if ((choices as readonly string[]).includes(value)) return value as T;
    errors.push(`${key} '${value}' is unknown: choose one of ${choices.join(', ')}.`);
    return fallback;
  };
  const integer = (key: string, min: number, max: number, fallback: number): number => {
    const text = params.get(key);
    if (text === null) return fallback;
    const value = parseNumber(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      errors.push(`${key} must be an integer from ${min} to ${max}, got '${text}'.`);
      return fallback;
    }
    return value;
  };

  const task = oneOf('task', TASKS, defaults.task);
  const backend = oneOf('backend', BACKENDS, defaults.backend);
  const seed = integer('seed', 0, 2 ** 31 - 1, defaults.seed);
  const steps = integer('steps', 1, MAX_STEPS, defaults.steps);
  const batchSize = integer('batch', 1, 2000, defaults.batchSize);

  const runTexts = params.getAll('run');
  if (runTexts.length > MAX_RUNS) {
    errors.push(`At most ${MAX_RUNS} runs race at once; the URL has ${runTexts.length}.`);
  }
  const runs =
    runTexts.length === 0
      ? defaults.runs
      : runTexts.map((text, i) => parseRun(text, i + 1, task, errors));

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, settings: { task, backend, seed, steps, batchSize, runs } };
}

/** One `run=` value: `optimizer,s=1,lr=0.01,wd=0` (s, lr and wd optional). */
function parseRun(text: string, index: number, task: Task, errors: string[]): RunSettings {
  const [name = '', ...options] = text.split(',').map((part) => part.trim());
  const run: RunSettings = {
    optimizer: 'adamw',
    predictionSteps: 0,
    learningRate: DEFAULT_LEARNING_RATE[task],
    weightDecay: 0,
  };
  const where = `Run ${index} (${text})`;
  if ((OPTIMIZER_NAMES as readonly string[]).includes(name)) {
    run.optimizer = name as OptimizerName;
  } else {
    errors.push(
      `${where}: unknown optimizer '${name}'; choose one of ${OPTIMIZER_NAMES.join(', ')}.`,
    );
  }
  for (const option of options) {
    const [key = '', valueText = ''] = option.split('=');
    const value = parseNumber(valueText);
    switch (key as (typeof RUN_KEYS)[number]) {
      case 's':
        if (!Number.isInteger(value) || value < 0 || value > 10) {
          errors.push(
            `${where}: s (prediction steps) must be an integer from 0 to 10, got '${valueText}'; s=1 is the paper's setting.`,
          );
        } else run.predictionSteps = value;
        break;
      case 'lr':
        if (!(value > 0) || !Number.isFinite(value)) {
          errors.push(
            `${where}: lr (learning rate) must be a positive number, got '${valueText}'; e.g. lr=${DEFAULT_LEARNING_RATE[task]}.`,
          );
        } else run.learningRate = value;
        break;
      case 'wd':
        if (!(value >= 0) || !Number.isFinite(value)) {
          errors.push(
            `${where}: wd (weight decay) must be a number ≥ 0, got '${valueText}'; e.g. wd=0.01.`,
          );
        } else run.weightDecay = value;
        break;
      default:
        errors.push(
          `${where}: unknown option '${option}'; use ${RUN_KEYS.join(', ')} as key=value.`,
        );
    }
  }
  if (run.predictionSteps > 0 && NO_PREDICTION.includes(run.optimizer)) {
    errors.push(
      `${where}: ${run.optimizer} takes no prediction steps (it already takes its gradient away from the weights it returns); use s=0.`,
    );
  }
  return run;
}

/** The URL query for `settings` (the inverse of `parseSettings`). */
export function settingsToQuery(settings: RaceSettings): string {
  // Commas and '=' stay readable in a run's value: URLSearchParams splits a pair at its first '='.
  const encode = (text: string): string =>
    encodeURIComponent(text).replace(/%2C/g, ',').replace(/%3D/g, '=');
  const pairs: [string, string][] = [
    ['task', settings.task],
    ['backend', settings.backend],
    ['seed', String(settings.seed)],
    ['steps', String(settings.steps)],
  ];
  if (settings.task === 'mnist') pairs.push(['batch', String(settings.batchSize)]);
  for (const run of settings.runs) {
    pairs.push([
      'run',
      `${run.optimizer},s=${run.predictionSteps},lr=${run.learningRate},wd=${run.weightDecay}`,
    ]);
  }
  return `?${pairs.map(([key, value]) => `${key}=${encode(value)}`).join('&')}`;
}

/** A short label for a run: `AdamW s=1 lr=0.05`. */
export function runLabel(run: RunSettings): string {
  const wd = run.weightDecay > 0 ? ` wd=${run.weightDecay}` : '';
  return `${run.optimizer} s=${run.predictionSteps} lr=${run.learningRate}${wd}`;
}
