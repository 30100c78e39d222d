import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import { ensureWritableDir, writeFileAtomic } from '../files.js';
import type { EpochRecord, MetricName, RunSummary } from '../training/log-format.js';
import {
  analyzeRuns,
  type Analysis,
  type ConfigAnalysis,
  type TaskAnalysis,
  type TimeToTarget,
} from './analysis.js';
import { slug, taskFigures, writeFigures, type Figure } from './plots.js';
import {
  protocolBlocks,
  sensitivityFigure,
  type ProtocolBlock,
  type TuningResult,
} from './protocol.js';
import { readRuns, type RunData } from './runs.js';
import type { PairedComparison, Summary } from './stats.js';

/** How the report was produced, printed in it verbatim. */
export interface ReportMeta {
  /** The command that made the runs. */
  command: string;
  /** The command that rebuilt this report from the runs' logs, when not the one above. */
  rebuiltWith?: string;
  packageVersion: string;
  backend: string;
  machine: string;
}

export interface WriteReportOptions {
  /** Folder searched for run folders (see `findRuns`); give this or `runs`. */
  runsRoot?: string;
  /** Runs already read; give this or `runsRoot`. */
  runs?: RunData[];
  outDir: string;
  /** Baseline configuration label (default: see `analyzeRuns`). */
  baseline?: string;
  meta: ReportMeta;
  /** The tuning behind a tuned comparison (`compare --tune`): its choices and sensitivity. */
  tuning?: TuningResult;
}

export interface ReportFiles {
  markdown: string;
  html: string;
  json: string;
  /** Every figure file (SVG and PNG). */
  figures: string[];
}

export interface ReportResult {
  analysis: Analysis;
  files: ReportFiles;
}

/** What report.json holds. */
export interface ReportJson {
  format: 'weight-prediction-report';
  formatVersion: 1;
  generatedAt: string;
  meta: ReportMeta;
  baseline: string | null;
  analysis: Analysis;
  figures: { task: string; name: string; title: string; svg: string; png: string }[];
  /** Every run read, with its raw summary (null while unfinished) and its epoch records. */
  runs: { dir: string; finished: boolean; summary: RunSummary | null; epochs: EpochRecord[] }[];
}

// ---------------------------------------------------------------------------------------------
// A tiny document model, rendered once as Markdown and once as HTML so the two say the same.

type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'code'; text: string }
  | { kind: 'table'; header: string[]; rows: string[][]; numeric: boolean[] }
  | { kind: 'figure'; figure: Figure };

const NA = 'n/a';

function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  // "-0.00" reads as a sign where there is none.
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function signed(x: number, digits: number): string {
  const s = fixed(x, digits);
  return x > 0 && Number(s) !== 0 ? `+${s}` : s;
}

/** Formats values of one metric: accuracy in percent, perplexity as is. */
class MetricFormat {
  constructor(readonly metric: MetricName) {}
  get unit(): string {
    return this.metric === 'accuracy' ? '%' : '';
  }
  get diffUnit(): string {
    return this.metric === 'accuracy' ? ' pp' : '';
  }
  private scale(x: number): number {
    return this.metric === 'accuracy' ? 100 * x : x;
  }
  value(x: number): string {
    return `${fixed(this.scale(x), 2)}${this.unit}`;
  }
  summary(s: Summary): string {
    const std = s.std === null ? '' : ` ± ${fixed(this.scale(s.std), 2)}`;
    return `${fixed(this.scale(s.mean), 2)}${std}${this.unit}`;
  }
  diff(d: PairedComparison | null): string {
    if (d === null) return NA;
    const ci = d.ci95
      ? ` [${signed(this.scale(d.ci95[0]), 2)}, ${signed(this.scale(d.ci95[1]), 2)}]`
      : '';
    return `${signed(this.scale(d.meanDiff), 2)}${this.diffUnit}${ci}`;
  }
}

function pValue(d: PairedComparison | null): string {
  if (d === null || d.p === null) return NA;
  if (d.p < 0.001) return '< 0.001';
  return d.p.toPrecision(2);
}

function seconds(s: Summary | null): string {
  if (s === null) return NA;
  const digits = s.mean >= 100 ? 0 : s.mean >= 10 ? 1 : 2;
  const std = s.std === null ? '' : ` ± ${fixed(s.std, digits)}`;
  return `${fixed(s.mean, digits)}${std} s`;
}

/** Mean ± std; whole numbers (an epoch every seed reached at once) print as whole numbers. */
function meanStd(s: Summary | null, digits: number): string {
  if (s === null) return NA;
  const d = (x: number) => (Number.isInteger(x) ? 0 : digits);
  return s.std === null
    ? fixed(s.mean, d(s.mean))
    : `${fixed(s.mean, d(s.mean))} ± ${fixed(s.std, d(s.std))}`;
}

export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const b = Math.abs(bytes);
  if (b < 1024) return `${sign}${fixed(b, 0)} B`;
  if (b < 1024 ** 2) return `${sign}${fixed(b / 1024, 1)} KiB`;
  if (b < 1024 ** 3) return `${sign}${fixed(b / 1024 ** 2, 1)} MiB`;
  return `${sign}${fixed(b / 1024 ** 3, 2)} GiB`;
}

function seedTimes(t: TimeToTarget): string {
  return t.perSeed
    .map((s) => `${s.seed}: ${s.reached ? `epoch ${s.epoch}` : 'not reached'}`)
    .join(', ');
}

function resultsTable(task: TaskAnalysis, fmt: MetricFormat): Block {
  const name = task.metric;
  return {
    kind: 'table',
    header: [
      'Configuration',
      'Seeds',
      `Final ${task.evaluatedOn} ${name}`,
      `Best ${task.evaluatedOn} ${name}`,
      `Δ final vs ${task.baseline} [95% CI]`,
      'p (paired t)',
      `Δ best vs ${task.baseline} [95% CI]`,
      'Time / epoch',
      'Optimizer memory',
      'Extra memory',
    ],
    numeric: [false, true, true, true, true, true, true, true, true, true],
    rows: task.configs.map((c: ConfigAnalysis) => [
      c.isBaseline ? `${c.label} (baseline)` : c.label,
      String(c.seeds.length),
      fmt.summary(c.finalMetric),
      fmt.summary(c.bestMetric),
      c.vsBaseline ? fmt.diff(c.vsBaseline.finalMetric) : '—',
      c.vsBaseline ? pValue(c.vsBaseline.finalMetric) : '—',
      c.vsBaseline ? fmt.diff(c.vsBaseline.bestMetric) : '—',
      seconds(c.secondsPerEpoch),
      formatBytes(c.optimizerMemoryBytes.mean),
      c.vsBaseline ? formatBytes(c.vsBaseline.extraMemoryBytes) : '—',
    ]),
  };
}

function timeTable(task: TaskAnalysis): Block {
  return {
    kind: 'table',
    header: [
      'Configuration',
      'Seeds reaching it',
      'Epoch',
      'Updates',
      'Wall time',
      'Per seed',
      'Time / epoch vs baseline',
    ],
    numeric: [false, true, true, true, true, false, true],
    rows: task.configs.map((c) => {
      const t = c.timeToTarget;
      const ratio = c.vsBaseline?.secondsPerEpochRatio;
      return [
        c.label,
        `${t.reached} / ${t.total}`,
        meanStd(t.epoch, 2),
        meanStd(t.step, 0),
        seconds(t.elapsedSeconds),
        seedTimes(t),
        c.vsBaseline ? (ratio === null || ratio === undefined ? NA : `${fixed(ratio, 3)}×`) : '—',
      ];
    }),
  };
}

/**
 * What the paired interval of the final metric allows one to say, and no more: a difference only
 * when the 95% interval leaves out zero, and then which way.
 */
function verdictWords(d: PairedComparison | null, higherIsBetter: boolean): string {
  if (d === null) return 'no seed pairs with the baseline: nothing to compare';
  if (d.ci95 === null) return 'one seed: no interval, so no verdict';
  const [lo, hi] = d.ci95;
  if (lo <= 0 && hi >= 0) return 'not distinguishable from seed noise';
  const better = lo > 0 === higherIsBetter;
  return `${better ? 'better' : 'worse'} than the baseline in these seeds (the 95% interval leaves out 0)`;
}

/** Bytes with a sign, for differences. */
function signedBytes(bytes: number): string {
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

/** One line per configuration: its final difference from the baseline, what that says, and the cost. */
export function verdicts(task: TaskAnalysis): string[] {
  const fmt = new MetricFormat(task.metric);
  return task.configs.flatMap((c) => {
    if (c.vsBaseline === null) return [];
    const d = c.vsBaseline.finalMetric;
    const n = c.vsBaseline.pairedSeeds.length;
    const ratio = c.vsBaseline.secondsPerEpochRatio;
    return [
      `${c.label} vs ${task.baseline}: final ${task.evaluatedOn} ${task.metric} ${fmt.diff(d)} ` +
        `(${n} seed${n === 1 ? '' : 's'}), ${verdictWords(d, task.higherIsBetter)}; ` +
        `${signedBytes(c.vsBaseline.extraMemoryBytes)} optimizer memory, ` +
        `${ratio === null ? NA : `${fixed(ratio, 2)}×`} time per epoch`,
    ];
  });
}

const percent = (x: number) => `${fixed(100 * x, 2)}%`;

/**
 * A language model's data and its Kneser–Ney bigram baseline, as its runs logged them; says so
 * when they did not.
 */
function corpusParagraph(task: TaskAnalysis): string | null {
  if (task.metric !== 'perplexity') return null;
  const c = task.corpus;
  if (c === null) {
    return "Kneser-Ney bigram perplexity: not in these runs' logs (they were written before runs logged it); a rerun logs it.";
  }
  const kn = c.kneserNeyBigram;
  const figures = (['validation', 'test'] as const).flatMap((split) => {
    const p = kn.perplexity[split];
    return p === undefined ? [] : [`${split} ${fixed(p, 2)}`];
  });
  return (
    `Kneser-Ney bigram perplexity: ${figures.join(', ')} (interpolated Kneser-Ney, discounts ${fixed(kn.discount, 3)} for pairs and ${fixed(kn.unigramDiscount, 3)} for continuation counts, ` +
    `counted on the same ${kn.trainPairs.toLocaleString('en-US')} training pairs the models train on and scored on the same pairs their perplexity is computed over, <eos> and <unk> included). ` +
    `A language model that does not beat it clearly has shown nothing beyond word-pair counts. ` +
    `Data: ${c.vocabSize.toLocaleString('en-US')} words in the vocabulary (<unk> and <eos> included); ` +
    `${c.tokens.train.toLocaleString('en-US')} / ${c.tokens.validation.toLocaleString('en-US')} / ${c.tokens.test.toLocaleString('en-US')} training / validation / test tokens, ` +
    `<unk> ${percent(c.unkRate.train)} / ${percent(c.unkRate.validation)} / ${percent(c.unkRate.test)} of them.`
  );
}

/** Whether each configuration's mean final perplexity beats the Kneser–Ney bigram's. */
export function bigramVerdict(task: TaskAnalysis): string | null {
  const bigram = task.corpus?.kneserNeyBigram.perplexity[task.evaluatedOn];
  if (task.metric !== 'perplexity' || bigram === undefined) return null;
  const fmt = new MetricFormat(task.metric);
  const above = task.configs.filter((c) => c.finalMetric.mean >= bigram);
  const head = `Kneser-Ney bigram ${task.evaluatedOn} perplexity ${fixed(bigram, 2)} on the same tokens`;
  if (above.length === 0) {
    const best = Math.min(...task.configs.map((c) => c.finalMetric.mean));
    return `${head}: every configuration ends below it (the lowest mean ${fmt.value(best)}, ${fixed((100 * (bigram - best)) / bigram, 1)}% below)`;
  }
  return `${head}: ${above.map((c) => `${c.label} (${fmt.value(c.finalMetric.mean)})`).join(', ')} ${above.length === 1 ? 'ends' : 'end'} at or above it: not trained past word-pair counts`;
}

/** What the numbers of a run depend on, so a reader knows what a rerun can match. */
const REPRODUCIBILITY =
  'Reproducibility: a rerun of the same code gives the same numbers bit for bit on the same CPU model with the same backend, native-addon setting and thread count (above). On another CPU, or with another thread count, BLAS kernels round differently: the numbers move by amounts of the order of seed noise, and a p near 0.05 can cross it.';

const HOW_TO_READ: string[] = [
  'Every configuration was trained once per seed. "a ± b" is the mean and the sample standard deviation over seeds (a single seed has no standard deviation; whatever cannot be computed from the runs is shown as n/a).',
  'Δ vs baseline is configuration minus baseline, paired by seed (same seed = same initial weights and data order), averaged over the seeds both have. The bracket is the 95% confidence interval of that mean difference (Student t, n − 1 degrees of freedom); p is the two-sided paired t-test. Accuracy differences are in percentage points (pp); for accuracy a positive Δ is better, for perplexity a negative one.',
  'With a handful of seeds the test has little power: p above 0.05 means "not shown", not "no difference". Read the interval: it is the range of differences the runs are consistent with.',
  'Time to target: for each seed, the first epoch whose test metric reaches the baseline\'s mean final metric (≥ for accuracy, ≤ for perplexity), with the optimizer updates and wall-clock seconds at that epoch\'s end; "not reached" when no epoch of that run gets there. The summary is over the seeds that reached it.',
  'Time / epoch is the logged wall-clock seconds per epoch; optimizer memory is what the optimizer holds beyond the model weights (state slots and, with weight prediction, the weight cache).',
  'Figures: the line is the mean over seeds, the band spans the lowest to the highest seed. Test metrics are measured with the true weights θ_t; the training loss is the mini-batch loss, measured at the predicted weights when predicting, averaged within bins of updates (on a log scale when every value is positive). The paired training-loss figure shows each configuration minus the baseline at the same seed and update bin: below the dashed zero line it is lower. The cost figure shows time per epoch (whiskers: lowest to highest seed) and optimizer memory.',
  'Verdict: the final difference with its 95% interval, called "not distinguishable from seed noise" whenever the interval includes 0 and better or worse only when it leaves 0 out; then the extra optimizer memory and the ratio of time per epoch to the baseline\'s.',
];

function buildDocument(
  analysis: Analysis,
  figures: Map<string, Figure[]>,
  meta: ReportMeta,
  generatedAt: string,
  runCount: number,
  protocol: Map<string, ProtocolBlock[]> = new Map(),
): Block[] {
  const divergedCount = analysis.unfinished.filter((u) => u.diverged).length;
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: 'Optimizer comparison' },
    {
      kind: 'list',
      items: [
        `Generated ${generatedAt} by weight-prediction ${meta.packageVersion}`,
        `Backend: ${meta.backend}`,
        `Machine: ${meta.machine}`,
        REPRODUCIBILITY,
        `Runs: ${runCount - analysis.unfinished.length} finished` +
          (divergedCount > 0 ? `, ${divergedCount} diverged (left out)` : '') +
          (analysis.unfinished.length > divergedCount
            ? `, ${analysis.unfinished.length - divergedCount} unfinished (left out)`
            : ''),
      ],
    },
    { kind: 'paragraph', text: 'Command:' },
    { kind: 'code', text: meta.command },
    ...(meta.rebuiltWith === undefined
      ? []
      : ([
          { kind: 'paragraph', text: 'Report rebuilt from the logs with:' },
          { kind: 'code', text: meta.rebuiltWith },
        ] as Block[])),
    { kind: 'heading', level: 2, text: 'Verdict' },
    {
      kind: 'list',
      items: analysis.tasks.flatMap((t) => {
        const lines = verdicts(t);
        const bigram = bigramVerdict(t);
        return [
          ...(lines.length > 0
            ? lines.map((line) => `${t.task}: ${line}`)
            : [`${t.task}: only ${t.baseline} was run, nothing to compare`]),
          ...(bigram === null ? [] : [`${t.task}: ${bigram}`]),
        ];
      }),
    },
    { kind: 'heading', level: 2, text: 'How to read this report' },
    { kind: 'list', items: HOW_TO_READ },
  ];
  for (const task of analysis.tasks) {
    const fmt = new MetricFormat(task.metric);
    const direction = task.higherIsBetter ? 'higher is better' : 'lower is better';
    const corpus = corpusParagraph(task);
    blocks.push(
      { kind: 'heading', level: 2, text: `Task ${task.task}` },
      {
        kind: 'paragraph',
        text: `Metric: ${task.evaluatedOn} ${task.metric} (${direction}). Baseline: ${task.baseline}.`,
      },
      ...(corpus === null ? [] : [{ kind: 'paragraph', text: corpus } as Block]),
      { kind: 'heading', level: 3, text: 'Final results' },
      resultsTable(task, fmt),
      {
        kind: 'heading',
        level: 3,
        text: `Time to the baseline's mean final ${task.metric} (${fmt.value(task.configs[0]!.timeToTarget.target)})`,
      },
      timeTable(task),
      { kind: 'heading', level: 3, text: 'Figures' },
    );
    for (const figure of figures.get(task.task) ?? []) blocks.push({ kind: 'figure', figure });
    blocks.push(...(protocol.get(task.task) ?? []));
    if (task.warnings.length > 0) {
      blocks.push(
        { kind: 'heading', level: 3, text: 'Warnings' },
        { kind: 'list', items: task.warnings },
      );
    }
  }
  const general = analysis.warnings;
  if (general.length > 0) {
    blocks.push(
      { kind: 'heading', level: 2, text: 'Unfinished runs and warnings' },
      { kind: 'list', items: general },
    );
  }
  return blocks;
}

function mdEscape(text: string): string {
  // Only what could start markup mid-line: emphasis, code, table cells, HTML.
  return text.replace(/([\\`*_|<])/g, '\\$1');
}

function renderMarkdown(blocks: Block[], figureDir: string): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${mdEscape(b.text)}`);
        break;
      case 'paragraph':
        out.push(mdEscape(b.text));
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${mdEscape(i)}`).join('\n'));
        break;
      case 'code': {
        const fence = b.text.includes('```') ? '~~~~' : '```';
        out.push(`${fence}\n${b.text}\n${fence}`);
        break;
      }
      case 'table': {
        const row = (cells: string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;
        const rule = `|${b.numeric.map((n) => (n ? ' ---: ' : ' :--- ')).join('|')}|`;
        out.push([row(b.header), rule, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'figure': {
        const file = `${figureDir}/${b.figure.name}`;
        out.push(
          `![${mdEscape(b.figure.title)}](${file}.png)\n\n` +
            `*${mdEscape(b.figure.title)}* ([SVG](${file}.svg))`,
        );
        break;
      }
    }
  }
  return out.join('\n\n') + '\n';
}

function htmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/**
 * An SVG made safe to inline in a page with others: no XML prolog or script, and its ids (clip
 * paths, gradients) prefixed so two figures never share one.
 */
export function inlineSvg(svg: string, prefix: string): string {
  return svg
    .replace(/<\?xml[^>]*>\s*/, '')
    .replace(/<script[\s\S]*?<\/script>/gi, '')
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .3rem .55rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f6f6f6; padding: .6rem .8rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-style: italic; color: #555; }
`;

function renderHtml(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`<h${b.level}>${htmlEscape(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        out.push(`<p>${htmlEscape(b.text)}</p>`);
        break;
      case 'list':
        out.push(`<ul>\n${b.items.map((i) => `<li>${htmlEscape(i)}</li>`).join('\n')}\n</ul>`);
        break;
      case 'code':
        out.push(`<pre><code>${htmlEscape(b.text)}</code></pre>`);
        break;
      case 'table': {
        const head = `<tr>${b.header.map((h) => `<th>${htmlEscape(h)}</th>`).join('')}</tr>`;
        const body = b.rows
          .map(
            (r) =>
              `<tr>${r
                .map((c, i) => `<td${b.numeric[i] ? ' class="num"' : ''}>${htmlEscape(c)}</td>`)
                .join('')}</tr>`,
          )
          .join('\n');
        out.push(`<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`);
        break;
      }
      case 'figure':
        out.push(
          `<figure>\n${inlineSvg(b.figure.svg, `fig-${b.figure.name}`)}\n<figcaption>${htmlEscape(b.figure.title)}</figcaption>\n</figure>`,
        );
        break;
    }
  }
  const title = 'Optimizer comparison';
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${title}</title>\n<style>${CSS}</style>\n</head>\n<body>\n${out.join('\n')}\n</body>\n</html>\n`
  );
}

/** Unique figure stems per task (two task names could slug to the same stem). */
function figureStems(tasks: TaskAnalysis[]): Map<string, string> {
  const used = new Set<string>();
  const stems = new Map<string, string>();
  for (const t of tasks) {
    let stem = slug(t.task);
    for (let i = 2; used.has(stem); i++) stem = `${slug(t.task)}-${i}`;
    used.add(stem);
    stems.set(t.task, stem);
  }
  return stems;
}

export const FIGURE_DIR = 'figures';

/**
 * Reads the runs (or takes them), analyses them and writes into `outDir`: `report.md`,
 * `report.html` (self-contained: inline CSS and SVG), `report.json` (every computed number plus
 * each run's raw summary and epoch records) and `figures/<task>-*.svg|png`. Every file is written
 * atomically.
 */
export async function writeReport(options: WriteReportOptions): Promise<ReportResult> {
  if ((options.runs === undefined) === (options.runsRoot === undefined)) {
    throw new UserInputError('writeReport needs exactly one of runsRoot (a folder) or runs');
  }
  const runs = options.runs ?? (await readRuns(options.runsRoot!));
  const analysis = analyzeRuns(
    runs,
    options.baseline === undefined ? {} : { baseline: options.baseline },
  );
  ensureWritableDir(options.outDir);
  const figureDir = path.join(options.outDir, FIGURE_DIR);
  ensureWritableDir(figureDir);

  const stems = figureStems(analysis.tasks);
  const figures = new Map<string, Figure[]>();
  const figureFiles: string[] = [];
  for (const task of analysis.tasks) {
    const list = await taskFigures(task, stems.get(task.task)!);
    writeFigures(figureDir, list);
    for (const f of list) {
      figureFiles.push(
        path.join(figureDir, `${f.name}.svg`),
        path.join(figureDir, `${f.name}.png`),
      );
    }
    figures.set(task.task, list);
  }

  const protocol = new Map<string, ProtocolBlock[]>();
  for (const task of analysis.tasks) {
    const tuning = options.tuning?.task === task.task ? options.tuning : undefined;
    const sensitivity = tuning && (await sensitivityFigure(tuning, stems.get(task.task)!));
    if (sensitivity) {
      writeFigures(figureDir, [sensitivity]);
      figureFiles.push(
        path.join(figureDir, `${sensitivity.name}.svg`),
        path.join(figureDir, `${sensitivity.name}.png`),
      );
    }
    protocol.set(task.task, protocolBlocks(task, runs, tuning, sensitivity));
  }

  const generatedAt = new Date().toISOString();
  const blocks = buildDocument(analysis, figures, options.meta, generatedAt, runs.length, protocol);
  const json: ReportJson = {
    format: 'weight-prediction-report',
    formatVersion: 1,
    generatedAt,
    meta: options.meta,
    baseline: options.baseline ?? null,
    analysis,
    figures: analysis.tasks.flatMap((t) =>
      (figures.get(t.task) ?? []).map((f) => ({
        task: t.task,
        name: f.name,
        title: f.title,
        svg: `${FIGURE_DIR}/${f.name}.svg`,
        png: `${FIGURE_DIR}/${f.name}.png`,
      })),
    ),
    runs: runs.map((r) => ({
      dir: r.dir,
      finished: r.finished,
      summary: r.summary,
      epochs: r.epochs,
    })),
  };
  const files: ReportFiles = {
    markdown: path.join(options.outDir, 'report.md'),
    html: path.join(options.outDir, 'report.html'),
    json: path.join(options.outDir, 'report.json'),
    figures: figureFiles,
  };
  writeFileAtomic(files.markdown, renderMarkdown(blocks, FIGURE_DIR));
  writeFileAtomic(files.html, renderHtml(blocks));
  writeFileAtomic(files.json, JSON.stringify(json, null, 2) + '\n');
  return { analysis, files };
}
