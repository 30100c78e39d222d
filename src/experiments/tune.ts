import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { RunData } from '../report/runs.js';
import { mean, sampleStd } from '../report/stats.js';
import type { TuningChoice, TuningPoint, TuningResult } from '../report/protocol.js';
import type { RunSummary } from '../training/log-format.js';
import { comparisonCells, gridSettings, runLabel, settingLabel, type Overrides } from './config.js';
import { readRuns } from '../report/runs.js';
import { planSweep, prepareSweepFolder, type SweepPlan, type WorkerResult } from './compare.js';

export type { TuningResult } from '../report/protocol.js';

/** The tuning runs live in `<out>/tuning/` (their own sweep.json and runs/), apart from the evaluation. */
export const TUNING_DIR = 'tuning';
export const TUNING_FILE = 'tuning.json';
/** Tuning seeds are 1001, 1002, …: never one of the evaluation seeds 1…N. */
export const TUNING_SEED_BASE = 1000;

export function tuningSeeds(count: number): number[] {
  return Array.from({ length: count }, (_, i) => TUNING_SEED_BASE + i + 1);
}

/** The runs of the tuning phase: every configuration × setting over the tuning seeds. */
export function planTuning(overrides: Overrides, out: string, seedCount: number): SweepPlan {
  const settings = gridSettings(overrides);
  if (settings.length < 2) {
    throw new UserInputError(
      '--tune has nothing to tune: one learning rate and one weight decay give one setting. List several, e.g. --lr 1e-3,3e-3,1e-2 (and/or --weight-decay 0,1e-2)',
    );
  }
  return planSweep(overrides, path.join(out, TUNING_DIR), undefined, tuningSeeds(seedCount));
}

/** The metric tuning chooses on: the final validation metric (language models: their valid split). */
export function validationMetric(summary: RunSummary): number {
  if (summary.final.validMetric !== undefined) return summary.final.validMetric;
  if (summary.evaluatedOn === 'validation') return summary.final.testMetric;
  throw new UserInputError(
    `Task ${summary.task} has no validation split, and tuning on the test split would choose on the numbers it then reports: set data.validationFraction (e.g. 0.1) in a --config file`,
  );
}

/**
 * For every optimizer × s configuration, the setting whose mean final validation metric over the
 * tuning seeds is best. Every tuning run must have finished.
 */
export function chooseSettings(
  overrides: Overrides,
  runs: readonly RunData[],
  seeds: { tuning: number[]; evaluation: number[] },
): TuningResult {
  const settings = gridSettings(overrides);
  const finished = runs.filter((r) => r.summary !== null).map((r) => r.summary!);
  const first = finished[0];
  if (first === undefined)
    throw new UserInputError('No tuning run finished: nothing to choose from');
  const choices = comparisonCells(overrides).map((cell): TuningChoice => {
    const label = runLabel(cell.optimizer, cell.predictionSteps);
    const points = settings.map((setting): TuningPoint => {
      const suffix = settingLabel(setting, overrides);
      const gridLabel = `${label} ${suffix}`;
      const mine = finished
        .filter((s) => s.label === gridLabel && seeds.tuning.includes(s.seed))
        .sort((a, b) => a.seed - b.seed);
      if (mine.length !== seeds.tuning.length) {
        throw new UserInputError(
          `Tuning: ${gridLabel} finished ${mine.length} of its ${seeds.tuning.length} runs: finish them (rerun with --resume) before the evaluation`,
        );
      }
      const values = mine.map(validationMetric);
      return {
        setting,
        runLabel: gridLabel,
        seeds: mine.map((s) => s.seed),
        validMetric: values,
        mean: mean(values),
        std: sampleStd(values),
      };
    });
    let best = points[0]!;
    for (const p of points) {
      if (first.higherIsBetter ? p.mean > best.mean : p.mean < best.mean) best = p;
    }
    return { label, points, chosen: best.setting };
  });
  const recipeOf = (s: RunSummary) =>
    (s.config as { recipe?: { learningRate?: number; weightDecay?: number } }).recipe ?? {};
  return {
    format: 'weight-prediction-tuning',
    task: first.task,
    metric: first.metric,
    higherIsBetter: first.higherIsBetter,
    tuningSeeds: seeds.tuning,
    evaluationSeeds: seeds.evaluation,
    defaults: {
      learningRate: recipeOf(first).learningRate ?? NaN,
      weightDecay: recipeOf(first).weightDecay ?? NaN,
    },
    choices,
  };
}

/**
 * The evaluation phase: every configuration at its own chosen setting, over the evaluation seeds
 * 1…N, labelled by configuration only (`adamw s=1`) so the report pairs them by seed as usual.
 */
export function planEvaluation(overrides: Overrides, out: string, tuning: TuningResult): SweepPlan {
  const cells = comparisonCells(overrides).map((cell) => {
    const label = runLabel(cell.optimizer, cell.predictionSteps);
    const choice = tuning.choices.find((c) => c.label === label)!;
    return { ...cell, ...choice.chosen, label };
  });
  return planSweep(overrides, out, cells, tuning.evaluationSeeds);
}

export function writeTuning(out: string, tuning: TuningResult): string {
  const file = path.join(out, TUNING_DIR, TUNING_FILE);
  writeFileAtomic(file, JSON.stringify(tuning, null, 2) + '\n');
  return file;
}

/** The tuning record of a comparison folder, or undefined when it was not tuned. */
export function readTuning(out: string): TuningResult | undefined {
  const file = path.join(out, TUNING_DIR, TUNING_FILE);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as TuningResult;
  if (parsed.format !== 'weight-prediction-tuning') {
    throw new UserInputError(`${file} is not a tuning record: remove it or choose another folder`);
  }
  return parsed;
}

/**
 * The tuning protocol: the tuning runs (every configuration × setting over the tuning seeds), the
 * choice of each configuration's setting on validation, then the evaluation runs (each
 * configuration at its chosen setting over the evaluation seeds 1…N). `execute` runs a plan (here
 * or through a queue); finished runs are skipped on `resume`.
 */
export async function runTunedComparison(
  overrides: Overrides,
  out: string,
  options: {
    tuneSeeds: number;
    resume: boolean;
    command: string;
    execute: (plan: SweepPlan) => Promise<WorkerResult[]>;
    say: (line: string) => void;
  },
): Promise<WorkerResult[]> {
  const tuningPlan = planTuning(overrides, out, options.tuneSeeds);
  const seeds = {
    tuning: tuningSeeds(options.tuneSeeds),
    evaluation: Array.from({ length: overrides.seeds ?? 3 }, (_, i) => i + 1),
  };
  prepareSweepFolder(tuningPlan, options.resume, options.command);
  options.say(
    `tuning: ${tuningPlan.runs.length} runs (seeds ${seeds.tuning.join(', ')}) in ${tuningPlan.out}`,
  );
  const tuningResults = await options.execute(tuningPlan);
  const failed = tuningResults.filter((r) => !r.ok).length;
  if (failed > 0) {
    throw new UserInputError(
      `${failed} of ${tuningResults.length} tuning runs failed (see above): nothing can be chosen until they finish. Fix the cause and rerun with --resume`,
    );
  }
  const tuning = chooseSettings(
    overrides,
    await readRuns(path.join(tuningPlan.out, 'runs')),
    seeds,
  );
  writeTuning(out, tuning);
  for (const choice of tuning.choices) {
    const best = choice.points.find((p) => p.setting === choice.chosen)!;
    options.say(
      `tuning: ${choice.label} chose ${best.runLabel.slice(choice.label.length + 1)} (mean validation ${tuning.metric} ${best.mean.toFixed(4)})`,
    );
  }
  const evaluationPlan = planEvaluation(overrides, out, tuning);
  prepareSweepFolder(evaluationPlan, options.resume, options.command);
  options.say(
    `evaluation: ${evaluationPlan.runs.length} runs (seeds ${seeds.evaluation.join(', ')}) at the chosen settings in ${out}`,
  );
  return [...tuningResults, ...(await options.execute(evaluationPlan))];
}
