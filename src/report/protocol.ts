import type { TopLevelSpec } from 'vega-lite';
import type { MetricName, RunSummary } from '../training/log-format.js';
import type { TaskAnalysis } from './analysis.js';
import { holmAdjust, minimumDetectableEffect, wilcoxonSignedRank } from './inference.js';
import { renderSvg, svgToPng, type Figure } from './plots.js';
import type { RunData } from './runs.js';
import { mean, pairedTTest, summarize, type Summary } from './stats.js';

/**
 * The report's protocol sections: which split each number comes from, the primary endpoint and
 * the corrected secondary comparisons, and, for a tuned comparison, what tuning chose and why.
 */

/** One learning rate × weight decay setting (undefined: the preset's). */
export interface Setting {
  learningRate?: number;
  weightDecay?: number;
}

/** One setting of one configuration, over the tuning seeds. */
export interface TuningPoint {
  setting: Setting;
  /** The grid label of its runs, e.g. `adamw s=1 lr=0.003`. */
  runLabel: string;
  seeds: number[];
  /** Final validation metric per seed (same order as `seeds`). */
  validMetric: number[];
  mean: number;
  std: number | null;
}

export interface TuningChoice {
  /** The configuration's label in the evaluation, e.g. `adamw s=1`. */
  label: string;
  points: TuningPoint[];
  /** The setting with the best mean validation metric (the first listed on a tie). */
  chosen: Setting;
}

/** What `<out>/tuning/tuning.json` holds: the protocol's choices and the numbers behind them. */
export interface TuningResult {
  format: 'weight-prediction-tuning';
  task: string;
  metric: MetricName;
  higherIsBetter: boolean;
  tuningSeeds: number[];
  evaluationSeeds: number[];
  /** The preset's values of what was not tuned, for the tables. */
  defaults: { learningRate: number; weightDecay: number };
  choices: TuningChoice[];
}

/** A block of the report's document (see write.ts), kept structural so both renderers share it. */
export type ProtocolBlock =
  | { kind: 'heading'; level: 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'table'; header: string[]; rows: string[][]; numeric: boolean[] }
  | { kind: 'figure'; figure: Figure };

type Finished = RunData & { summary: RunSummary };

const scaleOf = (metric: MetricName) => (metric === 'accuracy' ? 100 : 1);
const unitOf = (metric: MetricName) => (metric === 'accuracy' ? ' pp' : '');

function num(x: number, metric: MetricName): string {
  const s = (x * scaleOf(metric)).toFixed(2);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function diff(x: number, metric: MetricName): string {
  const s = num(x, metric);
  return `${x > 0 && Number(s) !== 0 ? '+' : ''}${s}${unitOf(metric)}`;
}

function pText(p: number | null): string {
  if (p === null) return 'n/a';
  return p < 0.001 ? '< 0.001' : p.toPrecision(2);
}

function summaryText(s: Summary | null, metric: MetricName): string {
  if (s === null) return 'n/a';
  const unit = metric === 'accuracy' ? '%' : '';
  return `${num(s.mean, metric)}${s.std === null ? '' : ` ± ${num(s.std, metric)}`}${unit}`;
}

/** Pairs (config, baseline) values by seed, for the seeds both have. */
function paired(
  runs: Finished[],
  base: Finished[],
  pick: (r: Finished) => number | undefined,
): { x: number[]; y: number[] } {
  const byseed = new Map(base.map((r) => [r.summary.seed, r]));
  const x: number[] = [];
  const y: number[] = [];
  for (const r of runs) {
    const b = byseed.get(r.summary.seed);
    const xv = pick(r);
    const yv = b && pick(b);
    if (xv !== undefined && yv !== undefined) {
      x.push(xv);
      y.push(yv);
    }
  }
  return { x, y };
}

/**
 * The statistics of one task: the primary endpoint (final test metric vs the baseline, paired by
 * seed) with the paired t, the exact Wilcoxon signed-rank test and the minimum detectable effect;
 * then every secondary comparison (best test metric, final validation metric, the test metric at
 * each earlier epoch) with Holm-adjusted p-values over all of them. With `tuning`, the validation
 * sections and the tuning choices with their sensitivity figure.
 */
export function protocolBlocks(
  task: TaskAnalysis,
  allRuns: readonly RunData[],
  tuning?: TuningResult,
  sensitivity?: Figure,
): ProtocolBlock[] {
  const runs = allRuns.filter(
    (r): r is Finished => r.summary !== null && r.summary.task === task.task,
  );
  const byLabel = (label: string) => runs.filter((r) => r.summary.label === label);
  const base = byLabel(task.baseline);
  const metric = task.metric;
  const others = task.configs.filter((c) => !c.isBaseline);
  const blocks: ProtocolBlock[] = [];
  const hasValidation = runs.some((r) => r.summary.final.validMetric !== undefined);

  blocks.push(
    { kind: 'heading', level: 3, text: 'Splits' },
    {
      kind: 'paragraph',
      text: hasValidation
        ? `Every figure and table above is on the ${task.evaluatedOn} split unless it says validation. The validation split is held out from the training images with a fixed seed (the same images for every run) and is the only split tuning chooses on; the test split is never used to choose anything.`
        : `Every figure and table is on the ${task.evaluatedOn} split; these runs have no separate validation split.`,
    },
  );

  if (others.length > 0) {
    const primaryRows = others.map((c) => {
      const { x, y } = paired(byLabel(c.label), base, (r) => r.summary.final.testMetric);
      const t = x.length > 0 ? pairedTTest(x, y) : null;
      const w = x.length > 0 ? wilcoxonSignedRank(x, y) : null;
      const mde = t ? minimumDetectableEffect(t.stdDiff, t.n) : null;
      return [
        c.label,
        String(x.length),
        t ? diff(t.meanDiff, metric) : 'n/a',
        pText(t?.p ?? null),
        w ? `${pText(w.p)} (min ${pText(w.minAttainableP)})` : 'n/a',
        mde === null ? 'n/a' : `${num(mde, metric)}${unitOf(metric)}`,
      ];
    });
    blocks.push(
      { kind: 'heading', level: 3, text: 'Primary endpoint' },
      {
        kind: 'paragraph',
        text: `Named before the runs: the final ${task.evaluatedOn} ${metric} of each configuration${tuning ? ' at its own chosen setting' : ''} minus the baseline's (${task.baseline}), paired by seed. Beside the paired t-test, the exact Wilcoxon signed-rank test (no normality assumed; with n seeds its p cannot go below 2/2^n, shown as min). The minimum detectable effect is the difference the paired t-test at 5% would detect with 80% power given these seeds and their paired spread: a "no difference" is only as fine as it.`,
      },
      {
        kind: 'table',
        header: [
          'Configuration',
          'Pairs',
          `Δ final ${task.evaluatedOn} ${metric}`,
          'p (paired t)',
          'p (Wilcoxon, exact)',
          'Detectable at 80% power',
        ],
        numeric: [false, true, true, true, true, true],
        rows: primaryRows,
      },
    );

    const secondary: { what: string; label: string; d: number | null; p: number | null }[] = [];
    const addSecondary = (what: string, pick: (r: Finished) => number | undefined) => {
      for (const c of others) {
        const { x, y } = paired(byLabel(c.label), base, pick);
        if (x.length === 0) continue;
        const t = pairedTTest(x, y);
        secondary.push({ what, label: c.label, d: t.meanDiff, p: t.p });
      }
    };
    addSecondary(`best ${task.evaluatedOn} ${metric}`, (r) => r.summary.best.testMetric);
    if (hasValidation) {
      addSecondary(`final validation ${metric}`, (r) => r.summary.final.validMetric);
    }
    const epochs = Math.max(...runs.map((r) => r.summary.epochs));
    for (let e = 1; e < epochs; e++) {
      addSecondary(
        `${task.evaluatedOn} ${metric} after epoch ${e}`,
        (r) => r.epochs.find((x) => x.epoch === e)?.testMetric,
      );
    }
    const adjusted = holmAdjust(secondary.map((s) => s.p));
    blocks.push(
      { kind: 'heading', level: 3, text: 'Secondary comparisons (Holm-corrected)' },
      {
        kind: 'paragraph',
        text: `Secondary, not the endpoint: each is a paired t-test against ${task.baseline}, and the Holm column corrects its p for the ${secondary.length} comparisons of this table together. Read a raw p below 0.05 here as a lead, not a finding.`,
      },
      {
        kind: 'table',
        header: ['Comparison', 'Configuration', 'Δ (mean)', 'p (paired t)', 'p (Holm)'],
        numeric: [false, false, true, true, true],
        rows: secondary.map((s, i) => [
          s.what,
          s.label,
          s.d === null ? 'n/a' : diff(s.d, metric),
          pText(s.p),
          pText(adjusted[i] ?? null),
        ]),
      },
    );
  }

  if (hasValidation) {
    const baseValid = base.flatMap((r) =>
      r.summary.final.validMetric === undefined ? [] : [r.summary.final.validMetric],
    );
    const target = baseValid.length > 0 ? mean(baseValid) : undefined;
    const tol = 1e-9 * Math.max(1, Math.abs(target ?? 0));
    blocks.push(
      { kind: 'heading', level: 3, text: `Validation ${metric} and time to target on validation` },
      {
        kind: 'paragraph',
        text:
          target === undefined
            ? 'The baseline logged no validation metric.'
            : `Target: the baseline's mean final validation ${metric} (${num(target, metric)}${metric === 'accuracy' ? '%' : ''}). Per seed, the first epoch whose validation ${metric} reaches it.`,
      },
      {
        kind: 'table',
        header: [
          'Configuration',
          `Final validation ${metric}`,
          'Seeds reaching the target',
          'Epoch (mean)',
          'Wall time (mean)',
        ],
        numeric: [false, true, true, true, true],
        rows: task.configs.map((c) => {
          const list = byLabel(c.label);
          const finals = list.flatMap((r) =>
            r.summary.final.validMetric === undefined ? [] : [r.summary.final.validMetric],
          );
          const hits =
            target === undefined
              ? []
              : list.flatMap((r) => {
                  const hit = r.epochs.find(
                    (e) =>
                      e.validMetric !== undefined &&
                      (task.higherIsBetter
                        ? e.validMetric >= target - tol
                        : e.validMetric <= target + tol),
                  );
                  return hit ? [hit] : [];
                });
          return [
            c.label,
            summaryText(summarize(finals), metric),
            `${hits.length} / ${list.length}`,
            hits.length > 0 ? mean(hits.map((h) => h.epoch)).toFixed(2) : 'n/a',
            hits.length > 0 ? `${mean(hits.map((h) => h.elapsedSeconds)).toFixed(1)} s` : 'n/a',
          ];
        }),
      },
    );
  }

  if (tuning && tuning.task === task.task) {
    blocks.push(
      { kind: 'heading', level: 3, text: 'Tuning' },
      {
        kind: 'paragraph',
        text: `Each configuration was tuned on its own: every setting below ran with the tuning seeds ${tuning.tuningSeeds.join(', ')}, and the one with the best mean final validation ${metric} was chosen. The comparison above then ran the chosen settings with the evaluation seeds ${tuning.evaluationSeeds.join(', ')}, which tuning did not use, and reports the test split.`,
      },
      {
        kind: 'table',
        header: [
          'Configuration',
          'Learning rate',
          'Weight decay',
          `Validation ${metric} (tuning seeds)`,
          'Per seed',
          'Chosen',
        ],
        numeric: [false, true, true, true, false, false],
        rows: tuning.choices.flatMap((choice) =>
          choice.points.map((p) => [
            choice.label,
            String(p.setting.learningRate ?? tuning.defaults.learningRate),
            String(p.setting.weightDecay ?? tuning.defaults.weightDecay),
            summaryText(summarize(p.validMetric), metric),
            p.validMetric.map((v) => num(v, metric)).join(', '),
            sameSetting(p.setting, choice.chosen) ? 'chosen' : '',
          ]),
        ),
      },
    );
    const edges = tuning.choices.flatMap((choice) => {
      const rates = [...new Set(choice.points.map((p) => p.setting.learningRate))].filter(
        (r): r is number => r !== undefined,
      );
      const chosen = choice.chosen.learningRate;
      if (rates.length < 2 || chosen === undefined) return [];
      if (chosen === Math.max(...rates))
        return [`${choice.label} chose the largest learning rate listed`];
      if (chosen === Math.min(...rates))
        return [`${choice.label} chose the smallest learning rate listed`];
      return [];
    });
    if (edges.length > 0) {
      blocks.push({
        kind: 'paragraph',
        text: `At the edge of the grid: ${edges.join('; ')}. The best setting may lie beyond the grid: extend the list that way before reading this as a comparison at each configuration's best.`,
      });
    }
    if (sensitivity) blocks.push({ kind: 'figure', figure: sensitivity });
  }
  return blocks;
}

function sameSetting(a: Setting, b: Setting): boolean {
  return a.learningRate === b.learningRate && a.weightDecay === b.weightDecay;
}

/**
 * The sensitivity figure: final validation metric against learning rate (log scale), a line per
 * configuration (and weight decay, when that was tuned too) with a band from the lowest to the
 * highest tuning seed, and the chosen setting marked.
 */
export async function sensitivityFigure(tuning: TuningResult, stem: string): Promise<Figure> {
  const tunedDecay = tuning.choices.some(
    (c) => new Set(c.points.map((p) => p.setting.weightDecay)).size > 1,
  );
  const rows = tuning.choices.flatMap((c) =>
    c.points.map((p) => ({
      line: tunedDecay ? `${c.label} wd=${p.setting.weightDecay}` : c.label,
      lr: p.setting.learningRate ?? tuning.defaults.learningRate,
      mean: p.mean,
      lo: Math.min(...p.validMetric),
      hi: Math.max(...p.validMetric),
      chosen: sameSetting(p.setting, c.chosen),
    })),
  );
  const yTitle = `Final validation ${tuning.metric}`;
  const title = `${tuning.task}: validation ${tuning.metric} against learning rate (tuning seeds)`;
  const yAxis = { title: yTitle, ...(tuning.metric === 'accuracy' && { format: '.1%' }) };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 520,
    height: 300,
    background: 'white',
    data: { values: rows },
    encoding: {
      x: {
        field: 'lr',
        type: 'quantitative',
        title: 'Learning rate',
        scale: { type: 'log', nice: false },
      },
      color: {
        field: 'line',
        type: 'nominal',
        title: 'Configuration',
        legend: { symbolOpacity: 1 },
      },
    },
    layer: [
      {
        mark: { type: 'area', opacity: 0.2 },
        encoding: {
          y: { field: 'lo', type: 'quantitative', axis: yAxis, scale: { zero: false } },
          y2: { field: 'hi' },
        },
      },
      {
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
      {
        transform: [{ filter: 'datum.chosen' }],
        mark: { type: 'point', shape: 'diamond', size: 220, filled: false, strokeWidth: 2.5 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
    ],
  };
  const svg = await renderSvg(spec);
  return {
    name: `${stem}-sensitivity`,
    title: `${title}; the diamond marks each configuration's chosen setting`,
    xTitle: 'Learning rate',
    yTitle,
    svg,
    png: svgToPng(svg),
  };
}
