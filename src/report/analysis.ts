import { UserInputError } from '../errors.js';
import type {
  CorpusSummary,
  EvaluationSplit,
  MetricName,
  RunSummary,
} from '../training/log-format.js';
import type { RunData } from './runs.js';
import {
  mean,
  pairedTTest,
  summarize,
  welchTTest,
  type PairedComparison,
  type Summary,
  type TTestResult,
} from './stats.js';

/** One x position of a learning curve, aggregated over seeds. */
export interface CurvePoint {
  /** Epoch (test-metric curve) or completed updates (training-loss curve). */
  x: number;
  n: number;
  mean: number;
  /** null when only one seed has a value here. */
  std: number | null;
  min: number;
  max: number;
}

/** When one seed first reaches the target. */
export interface SeedTimeToTarget {
  seed: number;
  reached: boolean;
  /** The first epoch whose test metric reaches the target; null when not reached. */
  epoch: number | null;
  step: number | null;
  elapsedSeconds: number | null;
}

export interface TimeToTarget {
  /** The baseline's mean final test metric. */
  target: number;
  perSeed: SeedTimeToTarget[];
  /** Seeds that reached the target, out of `total`. */
  reached: number;
  total: number;
  /** Over the seeds that reached the target; null when none did. */
  epoch: Summary | null;
  step: Summary | null;
  elapsedSeconds: Summary | null;
}

/** A configuration compared with the task's baseline (differences are config − baseline). */
export interface BaselineComparison {
  /** Seeds present in both, which the paired statistics use. */
  pairedSeeds: number[];
  /** Seeds of this configuration with no baseline run. */
  unmatchedSeeds: number[];
  /** Paired difference of the final test metric; null when no seed matches. */
  finalMetric: PairedComparison | null;
  /** Paired difference of the best test metric; null when no seed matches. */
  bestMetric: PairedComparison | null;
  /** Welch's unpaired test on the final test metric, over all seeds of both. */
  finalMetricWelch: TTestResult & { meanDiff: number };
  /** Mean seconds per epoch divided by the baseline's. */
  secondsPerEpochRatio: number | null;
  /** Mean optimizer memory minus the baseline's, in bytes. */
  extraMemoryBytes: number;
}

export interface ConfigAnalysis {
  label: string;
  isBaseline: boolean;
  /** `predictionSteps` found in the runs' configuration, when recorded. */
  predictionSteps: number | null;
  seeds: number[];
  runDirs: string[];
  finalMetric: Summary;
  bestMetric: Summary;
  bestEpoch: Summary;
  finalTestLoss: Summary;
  finalTrainLoss: Summary;
  secondsPerEpoch: Summary;
  wallSeconds: Summary;
  optimizerMemoryBytes: Summary;
  /** null for the baseline itself. */
  vsBaseline: BaselineComparison | null;
  timeToTarget: TimeToTarget;
  curves: {
    testMetric: CurvePoint[];
    trainLoss: CurvePoint[];
    /**
     * Training loss minus the baseline's, paired by seed within each bin of updates, aggregated
     * over the paired seeds; empty for the baseline and where no seed pairs.
     */
    trainLossVsBaseline: CurvePoint[];
  };
}

export interface TaskAnalysis {
  task: string;
  metric: MetricName;
  /** The held-out split the metric was measured on (labels in tables and figures). */
  evaluatedOn: EvaluationSplit;
  higherIsBetter: boolean;
  baseline: string;
  /** Updates per training-loss curve point (step records are averaged within such bins). */
  lossBinSteps: number;
  /**
   * Language models: the data as trained and its Kneser–Ney bigram baseline, as the runs logged
   * them (see CorpusSummary); null when no run logged them (image tasks, and language-model runs
   * written before they were logged).
   */
  corpus: CorpusSummary | null;
  configs: ConfigAnalysis[];
  warnings: string[];
}

export interface UnfinishedRun {
  dir: string;
  /** Set when the run stopped because its metrics went non-finite (see RunData.diverged). */
  diverged?: { epoch: number; step: number; reason: string };
  /** Epochs logged so far. */
  epochsLogged: number;
  lastStep: number | null;
}

export interface Analysis {
  tasks: TaskAnalysis[];
  unfinished: UnfinishedRun[];
  warnings: string[];
}

export interface AnalysisOptions {
  /** Label of the baseline configuration (default: per task, the first label whose runs have
   * predictionSteps 0, else the first label). */
  baseline?: string;
  /** Most points per training-loss curve (default 120). */
  maxLossPoints?: number;
}

/** A run that finished: its summary is known. */
type FinishedRun = RunData & { summary: RunSummary };

/** Finds a numeric `predictionSteps` in a run's configuration (top level or nested). */
export function findPredictionSteps(config: Record<string, unknown>): number | null {
  const queue: [unknown, number][] = [[config, 0]];
  while (queue.length > 0) {
    const [value, depth] = queue.shift()!;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const o = value as Record<string, unknown>;
    if (typeof o.predictionSteps === 'number' && Number.isFinite(o.predictionSteps)) {
      return o.predictionSteps;
    }
    if (depth < 3) for (const v of Object.values(o)) queue.push([v, depth + 1]);
  }
  return null;
}

/** The smallest 1, 2 or 5 × 10^k (k ≥ 0) at or above x: bin widths a reader can take in. */
export function niceCeil(x: number): number {
  let scale = 1;
  for (;;) {
    for (const m of [1, 2, 5]) if (m * scale >= x) return m * scale;
    scale *= 10;
  }
}

function mustSummarize(xs: number[]): Summary {
  const s = summarize(xs);
  if (s === null) throw new Error('internal: summary of an empty sample');
  return s;
}

/** Aggregates (x, value) samples from several seeds into one point per x. */
function aggregate(seriesPerSeed: Map<number, number>[]): CurvePoint[] {
  const byX = new Map<number, number[]>();
  for (const series of seriesPerSeed) {
    for (const [x, v] of series) {
      const list = byX.get(x);
      if (list) list.push(v);
      else byX.set(x, [v]);
    }
  }
  return [...byX.entries()]
    .sort(([a], [b]) => a - b)
    .map(([x, values]) => ({ x, ...mustSummarize(values) }));
}

/**
 * Training loss per run, averaged within bins of `binSteps` updates (x = the bin's last update,
 * capped at the run's last logged step), so seeds line up and the curve is lightly smoothed. A run
 * with no step records falls back to its per-epoch training loss.
 */
function lossSeries(run: FinishedRun, binSteps: number): Map<number, number> {
  const out = new Map<number, number>();
  if (run.steps.length === 0) {
    for (const e of run.epochs) out.set(e.step, e.trainLoss);
    return out;
  }
  const sums = new Map<number, { sum: number; count: number; lastStep: number }>();
  for (const s of run.steps) {
    const bin = Math.floor(Math.max(0, s.step - 1) / binSteps);
    const acc = sums.get(bin) ?? { sum: 0, count: 0, lastStep: 0 };
    acc.sum += s.loss;
    acc.count += 1;
    acc.lastStep = Math.max(acc.lastStep, s.step);
    sums.set(bin, acc);
  }
  const maxStep = Math.max(...run.steps.map((s) => s.step));
  for (const [bin, acc] of sums)
    out.set(Math.min((bin + 1) * binSteps, maxStep), acc.sum / acc.count);
  return out;
}

function timeToTarget(runs: FinishedRun[], target: number, higherIsBetter: boolean): TimeToTarget {
  // A relative tolerance of 1e-9 keeps float rounding in the mean from hiding a seed that sits
  // exactly on the target (e.g. all seeds equal).
  const tol = 1e-9 * Math.max(1, Math.abs(target));
  const perSeed: SeedTimeToTarget[] = runs.map((run) => {
    const hit = run.epochs.find((e) =>
      higherIsBetter ? e.testMetric >= target - tol : e.testMetric <= target + tol,
    );
    return hit
      ? {
          seed: run.summary.seed,
          reached: true,
          epoch: hit.epoch,
          step: hit.step,
          elapsedSeconds: hit.elapsedSeconds,
        }
      : { seed: run.summary.seed, reached: false, epoch: null, step: null, elapsedSeconds: null };
  });
  const hits = perSeed.filter((s) => s.reached);
  return {
    target,
    perSeed,
    reached: hits.length,
    total: perSeed.length,
    epoch: summarize(hits.map((s) => s.epoch!)),
    step: summarize(hits.map((s) => s.step!)),
    elapsedSeconds: summarize(hits.map((s) => s.elapsedSeconds!)),
  };
}

function chooseBaseline(
  task: string,
  labels: string[],
  byLabel: Map<string, FinishedRun[]>,
  requested: string | undefined,
): string {
  if (requested !== undefined) {
    if (!labels.includes(requested)) {
      throw new UserInputError(
        `Baseline ${JSON.stringify(requested)} has no finished runs for task ${JSON.stringify(task)}: ` +
          `pass one of ${labels.map((l) => JSON.stringify(l)).join(', ')}`,
      );
    }
    return requested;
  }
  const plain = labels.find((label) =>
    byLabel.get(label)!.every((r) => findPredictionSteps(r.summary.config) === 0),
  );
  return plain ?? labels[0]!;
}

function analyzeTask(task: string, runs: FinishedRun[], options: AnalysisOptions): TaskAnalysis {
  const warnings: string[] = [];
  const first = runs[0]!.summary;
  for (const r of runs) {
    if (r.summary.metric !== first.metric || r.summary.higherIsBetter !== first.higherIsBetter) {
      throw new UserInputError(
        `Task ${JSON.stringify(task)} mixes metrics: ${r.dir} has ${r.summary.metric}, ` +
          `${runs[0]!.dir} has ${first.metric}; report runs of one task setup together`,
      );
    }
  }
  const byLabel = new Map<string, FinishedRun[]>();
  for (const r of runs) {
    const list = byLabel.get(r.summary.label) ?? [];
    const twin = list.find((o) => o.summary.seed === r.summary.seed);
    if (twin) {
      throw new UserInputError(
        `Two runs of task ${JSON.stringify(task)}, label ${JSON.stringify(r.summary.label)}, seed ` +
          `${r.summary.seed}: ${twin.dir} and ${r.dir}; remove one or give them different labels`,
      );
    }
    list.push(r);
    byLabel.set(r.summary.label, list);
  }
  for (const list of byLabel.values()) list.sort((a, b) => a.summary.seed - b.summary.seed);
  const labels = [...byLabel.keys()];
  const baseline = chooseBaseline(task, labels, byLabel, options.baseline);
  const baseRuns = byLabel.get(baseline)!;
  const baseFinal = baseRuns.map((r) => r.summary.final.testMetric);
  const target = mean(baseFinal);
  const baseMemory = mean(baseRuns.map((r) => r.summary.optimizerMemoryBytes));
  const baseSecondsPerEpoch = mean(baseRuns.map((r) => r.summary.secondsPerEpoch));

  const epochCounts = new Set(runs.map((r) => r.summary.epochs));
  if (epochCounts.size > 1) {
    warnings.push(
      `runs of task ${task} trained for different numbers of epochs (${[...epochCounts].join(', ')}): final metrics are not comparable`,
    );
  }

  const maxStep = Math.max(...runs.map((r) => Math.max(0, ...r.steps.map((s) => s.step))));
  const maxPoints = options.maxLossPoints ?? 120;
  const lossBinSteps = niceCeil(maxStep / maxPoints);

  // The baseline leads every table; the others keep the order their runs were given in.
  const ordered = [baseline, ...labels.filter((l) => l !== baseline)];
  const baseLoss = new Map(baseRuns.map((r) => [r.summary.seed, lossSeries(r, lossBinSteps)]));
  const configs = ordered.map((label): ConfigAnalysis => {
    const list = byLabel.get(label)!;
    const isBaseline = label === baseline;
    const steps = new Set(list.map((r) => findPredictionSteps(r.summary.config)));
    const predictionSteps = steps.size === 1 ? [...steps][0]! : null;
    const final = list.map((r) => r.summary.final.testMetric);
    let vsBaseline: BaselineComparison | null = null;
    if (!isBaseline) {
      const baseBySeed = new Map(baseRuns.map((r) => [r.summary.seed, r]));
      const paired = list.filter((r) => baseBySeed.has(r.summary.seed));
      const unmatched = list
        .filter((r) => !baseBySeed.has(r.summary.seed))
        .map((r) => r.summary.seed);
      if (unmatched.length > 0) {
        warnings.push(
          `${label}: seeds ${unmatched.join(', ')} have no ${baseline} run; the paired comparison leaves them out`,
        );
      }
      const pairedOf = (pick: (s: RunSummary) => number): PairedComparison | null =>
        paired.length === 0
          ? null
          : pairedTTest(
              paired.map((r) => pick(r.summary)),
              paired.map((r) => pick(baseBySeed.get(r.summary.seed)!.summary)),
            );
      const meanSpe = mean(list.map((r) => r.summary.secondsPerEpoch));
      vsBaseline = {
        pairedSeeds: paired.map((r) => r.summary.seed),
        unmatchedSeeds: unmatched,
        finalMetric: pairedOf((s) => s.final.testMetric),
        bestMetric: pairedOf((s) => s.best.testMetric),
        finalMetricWelch: welchTTest(final, baseFinal),
        secondsPerEpochRatio: baseSecondsPerEpoch > 0 ? meanSpe / baseSecondsPerEpoch : null,
        extraMemoryBytes: mean(list.map((r) => r.summary.optimizerMemoryBytes)) - baseMemory,
      };
    }
    return {
      label,
      isBaseline,
      predictionSteps,
      seeds: list.map((r) => r.summary.seed),
      runDirs: list.map((r) => r.dir),
      finalMetric: mustSummarize(final),
      bestMetric: mustSummarize(list.map((r) => r.summary.best.testMetric)),
      bestEpoch: mustSummarize(list.map((r) => r.summary.best.epoch)),
      finalTestLoss: mustSummarize(list.map((r) => r.summary.final.testLoss)),
      finalTrainLoss: mustSummarize(list.map((r) => r.summary.final.trainLoss)),
      secondsPerEpoch: mustSummarize(list.map((r) => r.summary.secondsPerEpoch)),
      wallSeconds: mustSummarize(list.map((r) => r.summary.wallSeconds)),
      optimizerMemoryBytes: mustSummarize(list.map((r) => r.summary.optimizerMemoryBytes)),
      vsBaseline,
      timeToTarget: timeToTarget(list, target, first.higherIsBetter),
      curves: {
        testMetric: aggregate(
          list.map((r) => new Map(r.epochs.map((e) => [e.epoch, e.testMetric]))),
        ),
        trainLoss: aggregate(list.map((r) => lossSeries(r, lossBinSteps))),
        trainLossVsBaseline: isBaseline
          ? []
          : aggregate(
              list.flatMap((r) => {
                const base = baseLoss.get(r.summary.seed);
                if (base === undefined) return [];
                const diff = new Map<number, number>();
                for (const [x, loss] of lossSeries(r, lossBinSteps)) {
                  const b = base.get(x);
                  if (b !== undefined) diff.set(x, loss - b);
                }
                return [diff];
              }),
            ),
      },
    };
  });
  const corpora = [
    ...new Set(runs.flatMap((r) => (r.summary.corpus ? [JSON.stringify(r.summary.corpus)] : []))),
  ];
  if (corpora.length > 1) {
    warnings.push(
      `runs of task ${task} logged ${corpora.length} different corpora or Kneser-Ney baselines (different data settings or batch sizes): the report shows the first`,
    );
  }
  const logged = runs.filter((r) => r.summary.corpus !== undefined).length;
  if (logged > 0 && logged < runs.length) {
    warnings.push(
      `${runs.length - logged} of the ${runs.length} runs of task ${task} did not log their corpus and Kneser-Ney baseline (written before it was logged)`,
    );
  }
  const splits = new Set(runs.map((r) => splitOf(r.summary)));
  if (splits.size > 1) {
    warnings.push(
      `runs of task ${task} were evaluated on different splits (${[...splits].join(', ')}): their metrics are not comparable`,
    );
  }
  return {
    task,
    metric: first.metric,
    evaluatedOn: splitOf(first),
    higherIsBetter: first.higherIsBetter,
    baseline,
    lossBinSteps,
    corpus: runs.find((r) => r.summary.corpus !== undefined)?.summary.corpus ?? null,
    configs,
    warnings,
  };
}

/**
 * Groups finished runs by task and configuration label and compares every configuration with the
 * task's baseline: final / best test metric over seeds, paired differences by seed, time to reach
 * the baseline's mean final metric, time per epoch and optimizer memory. Unfinished runs are
 * listed, not analysed.
 */
export function analyzeRuns(runs: readonly RunData[], options: AnalysisOptions = {}): Analysis {
  const finished = runs.filter((r): r is FinishedRun => r.summary !== null);
  const unfinished: UnfinishedRun[] = runs
    .filter((r) => r.summary === null)
    .map((r) => ({
      dir: r.dir,
      ...(r.diverged && { diverged: r.diverged }),
      epochsLogged: r.epochs.length,
      lastStep:
        r.steps.length + r.epochs.length === 0
          ? null
          : Math.max(...r.steps.map((s) => s.step), ...r.epochs.map((e) => e.step)),
    }));
  const warnings = runs.flatMap((r) => r.warnings);
  for (const u of unfinished) {
    warnings.push(
      u.diverged
        ? `${u.dir} diverged: ${u.diverged.reason}: left out`
        : `${u.dir} is unfinished (no summary.json, ${u.epochsLogged} epochs logged): left out`,
    );
  }
  if (finished.length === 0) {
    throw new UserInputError(
      runs.length === 0
        ? 'No runs to report: pass the folder the compare command wrote its runs to'
        : runs.every((r) => r.diverged)
          ? `All ${runs.length} runs diverged (see their diverged.json): nothing to compare; lower the learning rate or set clipGlobalNorm`
          : `None of the ${runs.length} runs has finished (no summary.json): let them finish or resume them first`,
    );
  }
  const byTask = new Map<string, FinishedRun[]>();
  for (const r of finished) {
    const list = byTask.get(r.summary.task) ?? [];
    list.push(r);
    byTask.set(r.summary.task, list);
  }
  if (
    options.baseline !== undefined &&
    !finished.some((r) => r.summary.label === options.baseline)
  ) {
    const labels = [...new Set(finished.map((r) => r.summary.label))].sort();
    throw new UserInputError(
      `Baseline ${JSON.stringify(options.baseline)} matches no run: pass one of ${labels.map((l) => JSON.stringify(l)).join(', ')}`,
    );
  }
  const tasks = [...byTask.entries()].map(([task, list]) => analyzeTask(task, list, options));
  return { tasks, unfinished, warnings };
}

/** A run's evaluation split; summaries from before it was recorded follow RunSummary's rule. */
function splitOf(summary: RunSummary): EvaluationSplit {
  return summary.evaluatedOn ?? (summary.metric === 'perplexity' ? 'validation' : 'test');
}
