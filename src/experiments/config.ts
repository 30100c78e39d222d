import { describeValue, UserInputError } from '../errors.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/index.js';
import {
  cosineDecay,
  linearWarmup,
  perEpoch,
  stepDecay,
  type ScheduleSpec,
} from '../schedules/index.js';
import {
  PRESETS,
  presetNames,
  SCHEDULE_NAMES,
  type ImageDataConfig,
  type ModelConfig,
  type ScheduleName,
  type TaskPreset,
  type TextDataConfig,
  type TrainingRecipe,
} from './presets.js';
import { adaptRecipe, cellApplies } from './rivals.js';

export const BACKEND_NAMES = ['auto', 'wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Everything one training run needs, fully resolved; saved in its summary and checkpoints. */
export interface RunConfig {
  task: string;
  /** Configuration label in reports, e.g. `adamw s=1`. */
  label: string;
  seed: number;
  backend: BackendName;
  /** Folder for datasets read from disk (Fashion-MNIST, CIFAR, text corpora). */
  dataDir?: string;
  data: ImageDataConfig | TextDataConfig;
  model: ModelConfig;
  recipe: TrainingRecipe;
  /** s: 0 is the plain optimizer. */
  predictionSteps: number;
  /** Further optimizer options (betas, momentum, amsgrad, ...), passed through and validated there. */
  optimizerOptions: Record<string, unknown>;
  /** A step record every N updates. */
  logEvery: number;
  /** A checkpoint every N updates (0: at epoch ends only). */
  checkpointEvery: number;
}

/** What flags or a JSON config may change; every field is optional. */
export interface Overrides {
  task?: string;
  epochs?: number;
  batchSize?: number;
  /** A list is a grid of settings (or, with `compare --tune`, the settings tuned over). */
  learningRate?: number | number[];
  schedule?: ScheduleName;
  weightDecay?: number | number[];
  clipGlobalNorm?: number;
  bptt?: number;
  optimizer?: OptimizerName[];
  predictionSteps?: number[];
  optimizerOptions?: Record<string, unknown>;
  seeds?: number;
  seed?: number;
  backend?: BackendName;
  dataDir?: string;
  data?: Record<string, unknown>;
  model?: Record<string, unknown>;
  logEvery?: number;
  checkpointEvery?: number;
  out?: string;
}

const OVERRIDE_KEYS: readonly (keyof Overrides)[] = [
  'task',
  'epochs',
  'batchSize',
  'learningRate',
  'schedule',
  'weightDecay',
  'clipGlobalNorm',
  'bptt',
  'optimizer',
  'predictionSteps',
  'optimizerOptions',
  'seeds',
  'seed',
  'backend',
  'dataDir',
  'data',
  'model',
  'logEvery',
  'checkpointEvery',
  'out',
];

export function findPreset(name: string): TaskPreset {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) {
    throw new UserInputError(
      `Unknown task "${name}": choose one of ${presetNames().join(', ')} (see \`weight-prediction tasks\`)`,
    );
  }
  return preset;
}

function fail(where: string, name: string, value: unknown, expected: string): never {
  throw new UserInputError(
    `${where}: invalid ${name} ${describeValue(value)}: expected ${expected}`,
  );
}

function integer(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(where, name, value, `an integer >= ${min}`);
  }
  return value;
}

function nonNegative(where: string, name: string, value: unknown, positive = false): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (positive && value === 0)
  ) {
    fail(where, name, value, positive ? 'a finite number > 0' : 'a finite number >= 0');
  }
  return value;
}

/** A number or a non-empty list of distinct numbers, each checked; one value stays a number. */
function numberList(
  where: string,
  name: string,
  value: unknown,
  positive: boolean,
): number | number[] {
  if (!Array.isArray(value)) return nonNegative(where, name, value, positive);
  if (value.length === 0) fail(where, name, value, 'at least one value');
  const list = value.map((v) => nonNegative(where, name, v, positive));
  if (new Set(list).size !== list.length) fail(where, name, value, 'distinct values');
  return list.length === 1 ? list[0]! : list;
}

/**
 * Checks overrides from flags or a JSON config (`where` names the source in messages, e.g.
 * `--config run.json`), before anything trains.
 */
export function validateOverrides(raw: unknown, where: string): Overrides {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserInputError(`${where}: expected a JSON object of settings`);
  }
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OVERRIDE_KEYS.includes(key as keyof Overrides)) {
      throw new UserInputError(
        `${where}: unknown setting "${key}"; valid settings are ${OVERRIDE_KEYS.join(', ')}`,
      );
    }
  }
  if (o.task !== undefined) findPreset(String(o.task));
  if (o.epochs !== undefined) integer(where, 'epochs', o.epochs, 1);
  if (o.batchSize !== undefined) integer(where, 'batchSize', o.batchSize, 1);
  if (o.learningRate !== undefined) {
    o.learningRate = numberList(where, 'learningRate', o.learningRate, true);
  }
  if (o.weightDecay !== undefined) {
    o.weightDecay = numberList(where, 'weightDecay', o.weightDecay, false);
  }
  if (o.clipGlobalNorm !== undefined) nonNegative(where, 'clipGlobalNorm', o.clipGlobalNorm, true);
  if (o.bptt !== undefined) integer(where, 'bptt', o.bptt, 1);
  if (o.seeds !== undefined) integer(where, 'seeds', o.seeds, 1);
  if (o.seed !== undefined) integer(where, 'seed', o.seed, 0);
  if (o.logEvery !== undefined) integer(where, 'logEvery', o.logEvery, 1);
  if (o.checkpointEvery !== undefined) integer(where, 'checkpointEvery', o.checkpointEvery, 0);
  if (o.schedule !== undefined && !SCHEDULE_NAMES.includes(o.schedule as ScheduleName)) {
    fail(where, 'schedule', o.schedule, `one of ${SCHEDULE_NAMES.join(', ')}`);
  }
  if (o.backend !== undefined && !BACKEND_NAMES.includes(o.backend as BackendName)) {
    fail(where, 'backend', o.backend, `one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (o.optimizer !== undefined) {
    const list = Array.isArray(o.optimizer) ? o.optimizer : [o.optimizer];
    for (const name of list) {
      if (!OPTIMIZER_NAMES.includes(name as OptimizerName)) {
        fail(where, 'optimizer', name, `one of ${OPTIMIZER_NAMES.join(', ')}`);
      }
    }
    o.optimizer = list;
  }
  if (o.predictionSteps !== undefined) {
    const list = Array.isArray(o.predictionSteps) ? o.predictionSteps : [o.predictionSteps];
    if (list.length === 0) fail(where, 'predictionSteps', o.predictionSteps, 'at least one value');
    list.forEach((s) => integer(where, 'predictionSteps', s, 0));
    o.predictionSteps = list;
  }
  for (const key of ['optimizerOptions', 'data', 'model'] as const) {
    const value = o[key];
    if (
      value !== undefined &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      fail(where, key, value, 'an object');
    }
  }
  if (o.dataDir !== undefined && typeof o.dataDir !== 'string')
    fail(where, 'dataDir', o.dataDir, 'a path');
  if (o.out !== undefined && typeof o.out !== 'string') fail(where, 'out', o.out, 'a path');
  return o as Overrides;
}

/** Later sources win: e.g. `merge(fromConfigFile, fromFlags)`. Nested objects merge key by key. */
export function mergeOverrides(...sources: Overrides[]): Overrides {
  const out: Overrides = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source) as [keyof Overrides, unknown][]) {
      if (value === undefined) continue;
      const previous = out[key];
      (out as Record<string, unknown>)[key] =
        (key === 'data' || key === 'model' || key === 'optimizerOptions') && previous
          ? { ...(previous as object), ...(value as object) }
          : value;
    }
  }
  return out;
}

export function runLabel(optimizer: OptimizerName, predictionSteps: number): string {
  return predictionSteps === 0 ? optimizer : `${optimizer} s=${predictionSteps}`;
}

/** The settings `data` and `model` take, by kind (see presets.ts). */
// Typed by kind, so a new data or model kind cannot be added without its settings here.
const DATA_KEYS: {
  image: readonly (keyof ImageDataConfig)[];
  text: readonly (keyof TextDataConfig)[];
} = {
  image: [
    'kind',
    'dataset',
    'trainLimit',
    'testLimit',
    'validationFraction',
    'augment',
    'normalize',
  ],
  text: ['kind', 'corpus', 'vocabSize', 'minCount', 'books', 'trainTokens', 'validTokens'],
};
const MODEL_KEYS: {
  [K in ModelConfig['kind']]: readonly (keyof Extract<ModelConfig, { kind: K }>)[];
} = {
  mlp: ['kind', 'hiddenUnits'],
  vgg: ['kind', 'widths', 'convsPerBlock', 'denseUnits'],
  resnet: ['kind', 'depth', 'width'],
  lstm: ['kind', 'layers', 'embeddingSize', 'hiddenSize', 'dropout', 'tieWeights'],
  transformer: ['kind', 'layers', 'width', 'heads', 'contextLength', 'dropout'],
};

type KeyLists = Record<string, readonly string[] | undefined>;

/** A misspelt setting would otherwise be ignored in silence and the run use the preset's value. */
function checkKnownKeys(
  task: string,
  what: 'data' | 'model',
  value: { kind: string },
  known: readonly string[] | undefined,
): void {
  if (known === undefined) {
    const kinds = Object.keys(what === 'data' ? DATA_KEYS : MODEL_KEYS);
    throw new UserInputError(
      `Task ${task}: unknown ${what} kind ${describeValue(value.kind)}; valid kinds are ${kinds.join(', ')}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new UserInputError(
        `Task ${task}: unknown ${what} setting "${key}" (${what} kind ${value.kind}); valid ${what} settings are ${known.join(', ')}`,
      );
    }
  }
}

/** Whether a task's data comes from `dataDir` (the other datasets ship with the package). */
function readsDataDir(data: ImageDataConfig | TextDataConfig): boolean {
  return data.kind === 'image' ? data.dataset !== 'mnist' : data.corpus === 'text';
}

/** One configuration of a sweep; a learning rate or weight decay here wins over the overrides. */
export interface SweepCell {
  optimizer: OptimizerName;
  predictionSteps: number;
  learningRate?: number;
  weightDecay?: number;
  /** Label in reports (default: `runLabel` of the optimizer and s). */
  label?: string;
}

/** The values of a setting that may be a list. */
export function settingList(value: number | number[] | undefined): number[] | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value : [value];
}

/** One value of a setting that may be a list; a list of several needs the cell to choose. */
function single(name: string, flag: string, value: number | number[] | undefined, chosen?: number) {
  if (chosen !== undefined) return chosen;
  if (!Array.isArray(value)) return value;
  if (value.length === 1) return value[0];
  throw new UserInputError(
    `${name} lists ${value.length} values (${value.join(', ')}) but one run takes one: give one ${flag} value, or use \`compare\` to sweep them`,
  );
}

/** One run's configuration: the preset, the overrides, then one sweep cell and one seed. */
export function resolveRun(overrides: Overrides, cell: SweepCell, seed: number): RunConfig {
  const preset = findPreset(overrides.task ?? 'mnist-mlp');
  const learningRate = single('learningRate', '--lr', overrides.learningRate, cell.learningRate);
  const weightDecay = single(
    'weightDecay',
    '--weight-decay',
    overrides.weightDecay,
    cell.weightDecay,
  );
  const recipe: TrainingRecipe = {
    ...preset.recipe,
    optimizer: cell.optimizer,
    ...pick(overrides, ['epochs', 'batchSize', 'schedule', 'clipGlobalNorm', 'bptt']),
    ...(learningRate !== undefined && { learningRate }),
    ...(weightDecay !== undefined && { weightDecay }),
  };
  const adapted = adaptRecipe(cell.optimizer, recipe, overrides, overrides.optimizerOptions ?? {});
  const data = { ...preset.data, ...(overrides.data ?? {}) } as ImageDataConfig | TextDataConfig;
  const model = { ...preset.model, ...(overrides.model ?? {}) } as ModelConfig;
  checkKnownKeys(preset.name, 'data', data, (DATA_KEYS as KeyLists)[data.kind]);
  checkKnownKeys(preset.name, 'model', model, (MODEL_KEYS as KeyLists)[model.kind]);
  if (overrides.dataDir !== undefined && !readsDataDir(data)) {
    throw new UserInputError(
      `Task ${preset.name} reads no data folder (its ${data.kind === 'image' ? `${data.dataset} images come` : `${data.corpus} corpus comes`} with the package), so --data-dir ${overrides.dataDir} would be ignored: drop --data-dir (or "dataDir" in the config), or choose a task that reads a folder`,
    );
  }
  return {
    task: preset.name,
    label: cell.label ?? runLabel(cell.optimizer, cell.predictionSteps),
    seed,
    backend: overrides.backend ?? 'auto',
    ...(overrides.dataDir !== undefined && { dataDir: overrides.dataDir }),
    data,
    model,
    recipe: adapted.recipe,
    predictionSteps: cell.predictionSteps,
    optimizerOptions: adapted.optimizerOptions,
    logEvery: overrides.logEvery ?? 20,
    checkpointEvery: overrides.checkpointEvery ?? 200,
  };
}

/** The optimizer × s cells of a comparison (default: the preset's optimizer with s = 0 and 1). */
export function comparisonCells(overrides: Overrides): SweepCell[] {
  const preset = findPreset(overrides.task ?? 'mnist-mlp');
  const optimizers = overrides.optimizer ?? [preset.recipe.optimizer];
  const steps = overrides.predictionSteps ?? [0, 1];
  // Schedule-Free has no prediction: it runs once, with s = 0, whatever s values are compared.
  return optimizers.flatMap((optimizer) => {
    const applicable = steps.filter((s) => cellApplies(optimizer, s));
    return (applicable.length > 0 ? applicable : [0]).map((predictionSteps) => ({
      optimizer,
      predictionSteps,
    }));
  });
}

/** One learning rate × weight decay setting of a grid (undefined: the preset's). */
export interface Setting {
  learningRate?: number;
  weightDecay?: number;
}

/** The learning rate × weight decay settings the overrides list. */
export function gridSettings(overrides: Overrides): Setting[] {
  const rates = settingList(overrides.learningRate) ?? [undefined];
  const decays = settingList(overrides.weightDecay) ?? [undefined];
  return rates.flatMap((learningRate) =>
    decays.map((weightDecay) => ({
      ...(learningRate !== undefined && { learningRate }),
      ...(weightDecay !== undefined && { weightDecay }),
    })),
  );
}

/** `lr=0.001 wd=0.01`: the part of a grid label naming the settings that vary. */
export function settingLabel(setting: Setting, overrides: Overrides): string {
  const parts: string[] = [];
  if ((settingList(overrides.learningRate)?.length ?? 0) > 1)
    parts.push(`lr=${setting.learningRate}`);
  if ((settingList(overrides.weightDecay)?.length ?? 0) > 1)
    parts.push(`wd=${setting.weightDecay}`);
  return parts.join(' ');
}

/**
 * The cells of a grid: every optimizer × s configuration at every learning rate × weight decay
 * listed, labelled with the settings that vary (`adamw s=1 lr=0.003`).
 */
export function gridCells(overrides: Overrides): SweepCell[] {
  const settings = gridSettings(overrides);
  return comparisonCells(overrides).flatMap((cell) =>
    settings.map((setting) => {
      const suffix = settingLabel(setting, overrides);
      const base = runLabel(cell.optimizer, cell.predictionSteps);
      return { ...cell, ...setting, label: suffix === '' ? base : `${base} ${suffix}` };
    }),
  );
}

function pick<K extends keyof Overrides>(o: Overrides, keys: K[]): Partial<Pick<Overrides, K>> {
  const out: Partial<Pick<Overrides, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * The learning-rate schedule of a run: cosine decays per update to 0 over the run; step decays ×0.1
 * at 50% and 75% of the epochs; warmup-cosine warms up linearly over the first 5% of updates.
 */
export function buildSchedule(
  recipe: TrainingRecipe,
  stepsPerEpoch: number,
): ScheduleSpec | number {
  const total = recipe.epochs * stepsPerEpoch;
  const lr = recipe.learningRate;
  switch (recipe.schedule) {
    case 'constant':
      return lr;
    case 'cosine':
      return cosineDecay(lr, total, 0);
    case 'step': {
      const milestones = [Math.floor(recipe.epochs * 0.5), Math.floor(recipe.epochs * 0.75)].filter(
        (m, i, all) => m > 0 && all.indexOf(m) === i,
      );
      return perEpoch(stepsPerEpoch, stepDecay(lr, milestones, 0.1));
    }
    case 'warmup-cosine': {
      const warmup = Math.max(1, Math.round(total * 0.05));
      return linearWarmup(warmup, cosineDecay(lr, Math.max(1, total - warmup), 0));
    }
  }
}
