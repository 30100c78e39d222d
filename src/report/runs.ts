import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import type {
  CorpusSummary,
  EpochRecord,
  EvaluationSplit,
  MetricName,
  MetricsRecord,
  RunSummary,
  StepRecord,
} from '../training/log-format.js';
import { DIVERGED_FILE, METRICS_FILE, SUMMARY_FILE } from '../training/log-format.js';

/** One run folder as read from disk. */
export interface RunData {
  /** The run folder. */
  dir: string;
  steps: StepRecord[];
  epochs: EpochRecord[];
  /** null while the run is unfinished (no summary.json yet). */
  summary: RunSummary | null;
  finished: boolean;
  /** Problems tolerated while reading, e.g. the partial last line of a run that was killed. */
  warnings: string[];
  /**
   * Why the run stopped, when its metrics went non-finite (its diverged.json). Such a run has no
   * summary; its metrics.jsonl (which may hold nulls for NaN) is not read.
   */
  diverged?: { epoch: number; step: number; reason: string };
}

const METRICS: readonly MetricName[] = ['accuracy', 'perplexity'];

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks `obj[key]` is a finite number (optionally an integer ≥ min) and returns it. */
function num(
  obj: Record<string, unknown>,
  key: string,
  where: string,
  opts: { integer?: boolean; min?: number } = {},
): number {
  const v = obj[key];
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!opts.integer || Number.isInteger(v)) &&
    (opts.min === undefined || v >= opts.min);
  if (!ok) {
    const kind = opts.integer ? 'an integer' : 'a finite number';
    const bound = opts.min === undefined ? '' : ` >= ${opts.min}`;
    throw new Error(`${where}: field "${key}" is ${describe(v)}, expected ${kind}${bound}`);
  }
  return v as number;
}

function str(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string') {
    throw new Error(`${where}: field "${key}" is ${describe(v)}, expected a string`);
  }
  return v;
}

function obj(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function metricName(o: Record<string, unknown>, where: string): MetricName {
  const v = o.metric;
  if (!METRICS.includes(v as MetricName)) {
    throw new Error(
      `${where}: field "metric" is ${describe(v)}, expected one of ${METRICS.join(', ')}`,
    );
  }
  return v as MetricName;
}

/** Validates one parsed metrics.jsonl line. Throws a plain Error naming the field. */
export function parseRecord(value: unknown, where: string): MetricsRecord {
  const o = obj(value, where);
  if (o.type === 'step') {
    return {
      type: 'step',
      step: num(o, 'step', where, { integer: true, min: 0 }),
      epoch: num(o, 'epoch', where, { integer: true, min: 1 }),
      loss: num(o, 'loss', where),
      learningRate: num(o, 'learningRate', where),
      elapsedSeconds: num(o, 'elapsedSeconds', where, { min: 0 }),
      samplesPerSecond: num(o, 'samplesPerSecond', where, { min: 0 }),
    };
  }
  if (o.type === 'epoch') {
    return {
      type: 'epoch',
      epoch: num(o, 'epoch', where, { integer: true, min: 1 }),
      step: num(o, 'step', where, { integer: true, min: 0 }),
      trainLoss: num(o, 'trainLoss', where),
      testLoss: num(o, 'testLoss', where),
      testMetric: num(o, 'testMetric', where),
      ...(o.validMetric !== undefined && {
        validLoss: num(o, 'validLoss', where),
        validMetric: num(o, 'validMetric', where),
      }),
      metric: metricName(o, where),
      learningRate: num(o, 'learningRate', where),
      epochSeconds: num(o, 'epochSeconds', where, { min: 0 }),
      elapsedSeconds: num(o, 'elapsedSeconds', where, { min: 0 }),
      samplesPerSecond: num(o, 'samplesPerSecond', where, { min: 0 }),
    };
  }
  throw new Error(`${where}: field "type" is ${describe(o.type)}, expected "step" or "epoch"`);
}

/** Validates a parsed summary.json. Throws a plain Error naming the field. */
export function parseSummary(value: unknown, where: string): RunSummary {
  const o = obj(value, where);
  const final = obj(o.final, `${where} "final"`);
  const best = obj(o.best, `${where} "best"`);
  const versions = obj(o.versions, `${where} "versions"`);
  if (typeof o.higherIsBetter !== 'boolean') {
    throw new Error(
      `${where}: field "higherIsBetter" is ${describe(o.higherIsBetter)}, expected a boolean`,
    );
  }
  const label = str(o, 'label', where);
  const task = str(o, 'task', where);
  if (label.trim() === '') throw new Error(`${where}: field "label" is empty`);
  if (task.trim() === '') throw new Error(`${where}: field "task" is empty`);
  return {
    label,
    task,
    seed: num(o, 'seed', where, { integer: true }),
    metric: metricName(o, where),
    higherIsBetter: o.higherIsBetter,
    ...(o.evaluatedOn === undefined ? {} : { evaluatedOn: evaluationSplit(o.evaluatedOn, where) }),
    final: {
      testMetric: num(final, 'testMetric', `${where} "final"`),
      testLoss: num(final, 'testLoss', `${where} "final"`),
      trainLoss: num(final, 'trainLoss', `${where} "final"`),
      ...(final.validMetric !== undefined && {
        validMetric: num(final, 'validMetric', `${where} "final"`),
        validLoss: num(final, 'validLoss', `${where} "final"`),
      }),
    },
    best: {
      testMetric: num(best, 'testMetric', `${where} "best"`),
      epoch: num(best, 'epoch', `${where} "best"`, { integer: true, min: 1 }),
    },
    epochs: num(o, 'epochs', where, { integer: true, min: 1 }),
    steps: num(o, 'steps', where, { integer: true, min: 0 }),
    wallSeconds: num(o, 'wallSeconds', where, { min: 0 }),
    secondsPerEpoch: num(o, 'secondsPerEpoch', where, { min: 0 }),
    optimizerMemoryBytes: num(o, 'optimizerMemoryBytes', where, { integer: true, min: 0 }),
    config: obj(o.config, `${where} "config"`),
    ...(o.corpus === undefined ? {} : { corpus: corpusSummary(o.corpus, `${where} "corpus"`) }),
    versions: {
      package: str(versions, 'package', `${where} "versions"`),
      tfjs: str(versions, 'tfjs', `${where} "versions"`),
      node: str(versions, 'node', `${where} "versions"`),
    },
    backend: str(o, 'backend', where),
    ...(o.backendDetail === undefined ? {} : { backendDetail: str(o, 'backendDetail', where) }),
    machine: str(o, 'machine', where),
    command: str(o, 'command', where),
  };
}

/** Validates a summary's `corpus` (a language model's data and its Kneser–Ney baseline). */
function corpusSummary(value: unknown, where: string): CorpusSummary {
  const o = obj(value, where);
  const splits = (key: string, opts: { integer?: boolean; max?: number }) => {
    const { max } = opts;
    const inner = obj(o[key], `${where} "${key}"`);
    const read = (split: string) => {
      const v = num(inner, split, `${where} "${key}"`, { integer: opts.integer ?? false, min: 0 });
      if (max !== undefined && v > max) {
        throw new Error(`${where} "${key}": field "${split}" is ${v}, expected at most ${max}`);
      }
      return v;
    };
    return { train: read('train'), validation: read('validation'), test: read('test') };
  };
  const kn = obj(o.kneserNeyBigram, `${where} "kneserNeyBigram"`);
  const knWhere = `${where} "kneserNeyBigram"`;
  const perplexity = obj(kn.perplexity, `${knWhere} "perplexity"`);
  const ppl = (split: 'validation' | 'test') =>
    perplexity[split] === undefined
      ? {}
      : { [split]: num(perplexity, split, `${knWhere} "perplexity"`, { min: 1 }) };
  return {
    vocabSize: num(o, 'vocabSize', where, { integer: true, min: 1 }),
    tokens: splits('tokens', { integer: true }),
    unkRate: splits('unkRate', { max: 1 }),
    kneserNeyBigram: {
      discount: num(kn, 'discount', knWhere, { min: 0 }),
      unigramDiscount: num(kn, 'unigramDiscount', knWhere, { min: 0 }),
      trainPairs: num(kn, 'trainPairs', knWhere, { integer: true, min: 1 }),
      perplexity: { ...ppl('validation'), ...ppl('test') },
    },
  };
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserInputError(`Cannot read ${file} (${reason}): check the file's permissions`);
  }
}

const FIX = 're-run this configuration, or move the run folder out of the results folder';

/**
 * Reads one run folder: `metrics.jsonl` and, when the run has finished, `summary.json`.
 *
 * A missing summary.json means the run is unfinished; its metrics are still read, and a partial
 * last line (the run was killed mid-write) is dropped with a warning. Any other damage (a missing
 * metrics.jsonl, a line that is not JSON, a record or summary with a missing or wrong field, a
 * summary that disagrees with the log) throws a UserInputError naming the file and line.
 */
export async function readRun(dir: string): Promise<RunData> {
  const metricsFile = path.join(dir, METRICS_FILE);
  const summaryFile = path.join(dir, SUMMARY_FILE);
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new UserInputError(
      `Run folder ${dir} does not exist: pass a folder that holds ${METRICS_FILE}`,
    );
  }
  if (!stat.isDirectory()) {
    throw new UserInputError(
      `Run folder ${dir} is not a folder: pass the folder that holds ${METRICS_FILE}`,
    );
  }
  const divergedText = await readIfExists(path.join(dir, DIVERGED_FILE));
  if (divergedText !== null) return readDivergedRun(dir, divergedText);
  const [metricsText, summaryText] = await Promise.all([
    readIfExists(metricsFile),
    readIfExists(summaryFile),
  ]);
  if (metricsText === null) {
    throw new UserInputError(
      `${metricsFile} is missing${summaryText === null ? '' : ` (though ${SUMMARY_FILE} exists)`}: ${FIX}`,
    );
  }

  let summary: RunSummary | null = null;
  if (summaryText !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(summaryText);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UserInputError(`${summaryFile} is not valid JSON (${reason}): ${FIX}`);
    }
    try {
      summary = parseSummary(parsed, summaryFile);
    } catch (error) {
      throw new UserInputError(`${(error as Error).message}: ${FIX}`);
    }
  }

  const warnings: string[] = [];
  const steps: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  const lines = metricsText.split('\n');
  // The writer ends every line with '\n', so anything after the last one is a partial line.
  const partial = lines.pop() ?? '';
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${metricsFile} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UserInputError(`${where} is not valid JSON (${describe(line)}): ${FIX}`);
    }
    let record: MetricsRecord;
    try {
      record = parseRecord(value, where);
    } catch (error) {
      throw new UserInputError(`${(error as Error).message}: ${FIX}`);
    }
    if (record.type === 'step') steps.push(record);
    else epochs.push(record);
  });
  if (partial.trim() !== '') {
    if (summary !== null) {
      throw new UserInputError(
        `${metricsFile} line ${lines.length + 1} is cut off (no line end) although the run finished: ${FIX}`,
      );
    }
    warnings.push(`${metricsFile}: dropped a partial last line (the run was interrupted)`);
  }

  for (let i = 1; i < epochs.length; i++) {
    if (epochs[i]!.epoch <= epochs[i - 1]!.epoch) {
      throw new UserInputError(
        `${metricsFile}: epoch ${epochs[i]!.epoch} is logged after epoch ${epochs[i - 1]!.epoch}; epochs must increase: ${FIX}`,
      );
    }
  }

  if (summary !== null) {
    const last = epochs[epochs.length - 1];
    if (last === undefined) {
      throw new UserInputError(
        `${metricsFile} has no epoch records although ${SUMMARY_FILE} exists: ${FIX}`,
      );
    }
    if (last.testMetric !== summary.final.testMetric || last.metric !== summary.metric) {
      throw new UserInputError(
        `${summaryFile} disagrees with ${metricsFile}: final ${summary.metric} ${summary.final.testMetric}, ` +
          `last epoch record ${last.metric} ${last.testMetric}: ${FIX}`,
      );
    }
  }
  const mixed = epochs.find((e) => e.metric !== epochs[0]!.metric);
  if (mixed !== undefined) {
    throw new UserInputError(
      `${metricsFile} mixes metrics (${epochs[0]!.metric} and ${mixed.metric}) in one run: ${FIX}`,
    );
  }
  return { dir, steps, epochs, summary, finished: summary !== null, warnings };
}

function readDivergedRun(dir: string, text: string): RunData {
  const file = path.join(dir, DIVERGED_FILE);
  let diverged: RunData['diverged'];
  try {
    const o = obj(JSON.parse(text), file);
    diverged = {
      epoch: num(o, 'epoch', file, { integer: true, min: 1 }),
      step: num(o, 'step', file, { integer: true, min: 0 }),
      reason: str(o, 'reason', file),
    };
  } catch (error) {
    throw new UserInputError(`${file} is damaged (${(error as Error).message}): ${FIX}`);
  }
  return { dir, steps: [], epochs: [], summary: null, finished: false, warnings: [], diverged };
}

/**
 * Run folders (those holding metrics.jsonl or summary.json) at or below `root`, sorted by path.
 * Hidden folders and node_modules are skipped, and a run folder's subfolders are not searched.
 */
export async function findRuns(root: string, maxDepth = 8): Promise<string[]> {
  let stat;
  try {
    stat = await fs.stat(root);
  } catch {
    throw new UserInputError(
      `Results folder ${root} does not exist: pass the folder the runs were written to`,
    );
  }
  if (!stat.isDirectory()) {
    throw new UserInputError(
      `Results folder ${root} is a file: pass the folder the runs were written to`,
    );
  }
  const found: string[] = [];
  async function walk(dir: string, depth: number): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (names.has(METRICS_FILE) || names.has(SUMMARY_FILE) || names.has(DIVERGED_FILE)) {
      found.push(dir);
      return;
    }
    if (depth >= maxDepth) return;
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules') continue;
      await walk(path.join(dir, e.name), depth + 1);
    }
  }
  await walk(root, 0);
  return found.sort();
}

/** Reads every run folder below `root`. */
export async function readRuns(root: string): Promise<RunData[]> {
  const dirs = await findRuns(root);
  const runs: RunData[] = [];
  for (const dir of dirs) runs.push(await readRun(dir));
  return runs;
}

function evaluationSplit(value: unknown, where: string): EvaluationSplit {
  if (value === 'test' || value === 'validation') return value;
  throw new Error(
    `${where}: field "evaluatedOn" is ${JSON.stringify(value)}, expected "test" or "validation"`,
  );
}
