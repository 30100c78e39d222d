import * as fs from 'node:fs';
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../files.js';
import type { CurvePoint, TaskAnalysis } from './analysis.js';

/** One rendered figure. */
export interface Figure {
  /** File stem: the figure is written as `<name>.svg` and `<name>.png`. */
  name: string;
  title: string;
  /** Axis titles, so callers (and tests) can check the figure says what it shows. */
  xTitle: string;
  yTitle: string;
  svg: string;
  png: Uint8Array;
}

/** A font file and the family name it provides. */
export interface FontChoice {
  file: string;
  family: string;
}

/**
 * Fonts resvg can use for axis text, most likely first. resvg draws no text at all without a font,
 * and loading every system font is slow, so one known file is loaded. Debian / Ubuntu ship DejaVu
 * in `fonts-dejavu-core`.
 */
const FONT_CANDIDATES: FontChoice[] = [
  { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/dejavu/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/TTF/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf', family: 'DejaVu Sans' },
  {
    file: '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
    family: 'Liberation Sans',
  },
  { file: '/System/Library/Fonts/Supplemental/Arial.ttf', family: 'Arial' },
  { file: '/Library/Fonts/Arial.ttf', family: 'Arial' },
  { file: 'C:\\Windows\\Fonts\\arial.ttf', family: 'Arial' },
];

/**
 * The font used for PNG text: `WEIGHT_PREDICTION_FONT` (a .ttf / .otf path) when set, else the first
 * known sans-serif file that exists; null when none is found (resvg then searches system fonts).
 */
export function findFont(): FontChoice | null {
  const override = process.env.WEIGHT_PREDICTION_FONT;
  if (override !== undefined && override !== '' && fs.existsSync(override)) {
    return { file: override, family: path.basename(override).replace(/\.[^.]+$/, '') };
  }
  return FONT_CANDIDATES.find((c) => fs.existsSync(c.file)) ?? null;
}

/** Compiles a Vega-Lite spec and renders it to SVG headlessly (no DOM, no network). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG to PNG at `scale` × its size, on white, with a real font for the text. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const font = findFont();
  const resvg = new Resvg(svg, {
    font: font
      ? {
          loadSystemFonts: false,
          fontFiles: [font.file],
          defaultFontFamily: font.family,
          sansSerifFamily: font.family,
        }
      : { loadSystemFonts: true },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  return resvg.render().asPng();
}

/** A file-name-safe stem. */
export function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s === '' ? 'task' : s;
}

interface CurveRow {
  label: string;
  x: number;
  mean: number;
  lo: number;
  hi: number;
  seeds: number;
}

function rows(
  task: TaskAnalysis,
  pick: 'testMetric' | 'trainLoss' | 'trainLossVsBaseline',
): CurveRow[] {
  return task.configs.flatMap((c) =>
    c.curves[pick].map((p: CurvePoint) => ({
      label: c.label,
      x: p.x,
      mean: p.mean,
      lo: p.min,
      hi: p.max,
      seeds: p.n,
    })),
  );
}

/** A line per configuration (mean over seeds) over a band from the lowest to the highest seed. */
function curveSpec(
  title: string,
  xTitle: string,
  yTitle: string,
  data: CurveRow[],
  labels: string[],
  yFormat: string | undefined,
  points: boolean,
  options: { logScale?: boolean; zeroRule?: boolean; legendLabels?: string[] } = {},
): TopLevelSpec {
  const yAxis = {
    title: yTitle,
    ...(yFormat !== undefined && { format: yFormat }),
    ...(options.logScale && { values: logTicks(data), format: '~g' }),
  };
  // A log axis spans the data, not the decades around it.
  const yScale = options.logScale ? { type: 'log' as const, nice: false } : { zero: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 520,
    height: 300,
    background: 'white',
    data: { values: data },
    encoding: {
      // Epochs and updates are whole numbers: no fractional ticks.
      x: {
        field: 'x',
        type: 'quantitative',
        title: xTitle,
        scale: { zero: false },
        axis: { tickMinStep: 1, format: 'd' },
      },
      // A fixed domain gives every configuration the same colour in every figure.
      color: {
        field: 'label',
        type: 'nominal',
        title: 'Configuration',
        scale: { domain: labels },
        // The legend otherwise takes the faint band's opacity.
        legend: {
          symbolOpacity: 1,
          ...(options.legendLabels !== undefined && { values: options.legendLabels }),
        },
      },
    },
    layer: [
      {
        mark: { type: 'area', opacity: 0.2 },
        encoding: {
          y: { field: 'lo', type: 'quantitative', axis: yAxis, scale: yScale },
          y2: { field: 'hi' },
        },
      },
      {
        mark: { type: 'line', point: points, strokeWidth: 2 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
      ...(options.zeroRule
        ? [
            {
              mark: { type: 'rule' as const, color: '#555', strokeDash: [4, 3] },
              encoding: { y: { datum: 0 } },
            },
          ]
        : []),
    ],
  } as TopLevelSpec;
}

/** Tick values for a log axis over the data: 1, 2, 5 × 10^k, or finer on a short range. */
function logTicks(data: CurveRow[]): number[] {
  const lo = Math.min(...data.map((r) => r.lo));
  const hi = Math.max(...data.map((r) => r.hi));
  const ticks = (digits: number[]) => {
    const out: number[] = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      for (const d of digits) {
        const v = Number((d * 10 ** k).toPrecision(6));
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    return out;
  };
  const coarse = ticks([1, 2, 5]);
  return coarse.length >= 4 ? coarse : ticks([1, 1.2, 1.5, 2, 3, 4, 5, 6, 7, 8, 9]);
}

const MIB = 2 ** 20;

/**
 * What prediction costs, per configuration: time per epoch (mean over seeds, the whisker from the
 * lowest to the highest seed) and the optimizer's memory beyond the weights.
 */
function costSpec(task: TaskAnalysis, labels: string[]): TopLevelSpec {
  const largest = Math.max(...task.configs.map((c) => c.optimizerMemoryBytes.mean));
  const [unit, unitBytes] = largest >= MIB ? ['MiB', MIB] : ['KiB', 1024];
  const data = task.configs.map((c) => ({
    label: c.label,
    seconds: c.secondsPerEpoch.mean,
    secondsLo: c.secondsPerEpoch.min,
    secondsHi: c.secondsPerEpoch.max,
    memory: c.optimizerMemoryBytes.mean / unitBytes,
  }));
  const color = {
    field: 'label',
    type: 'nominal' as const,
    title: 'Configuration',
    scale: { domain: labels },
  };
  const x = {
    field: 'label',
    type: 'nominal' as const,
    title: null,
    sort: labels,
    axis: { labelAngle: 0 },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${task.task}: what each configuration costs`,
    background: 'white',
    data: { values: data },
    hconcat: [
      {
        width: 240,
        height: 220,
        layer: [
          {
            mark: 'bar',
            encoding: {
              x,
              y: { field: 'seconds', type: 'quantitative', title: 'Time per epoch (s)' },
              color,
            },
          },
          {
            mark: { type: 'rule', color: '#222' },
            encoding: {
              x,
              y: { field: 'secondsLo', type: 'quantitative' },
              y2: { field: 'secondsHi' },
            },
          },
        ],
      },
      {
        width: 240,
        height: 220,
        mark: 'bar',
        encoding: {
          x,
          y: { field: 'memory', type: 'quantitative', title: `Optimizer memory (${unit})` },
          color,
        },
      },
    ],
  } as TopLevelSpec;
}

/** What each figure of a task shows, before rendering. */
export function taskFigureSpecs(
  task: TaskAnalysis,
  stem = slug(task.task),
): { name: string; title: string; xTitle: string; yTitle: string; spec: TopLevelSpec }[] {
  const labels = task.configs.map((c) => c.label);
  const split = task.evaluatedOn === 'test' ? 'Test' : 'Validation';
  const metricTitle = `${split} ${task.metric}`;
  const testRows = rows(task, 'testMetric');
  const lossRows = rows(task, 'trainLoss');
  // On a log scale the late updates, where the configurations differ by little, keep their room.
  const logScale = lossRows.length > 0 && lossRows.every((r) => r.lo > 0);
  // Short: a rotated axis title longer than the plot is tall pushes the plot down.
  const lossTitle = logScale ? 'Training loss (log scale)' : 'Training loss';
  const lossFigureTitle = `${task.task}: training loss (mean of ${task.lossBinSteps}-update bins)`;
  const diffRows = rows(task, 'trainLossVsBaseline');
  const diffTitle = `Training loss − ${task.baseline}'s (same seed)`;
  const diffLabels = labels.filter((l) => l !== task.baseline);
  const diffFigures =
    diffRows.length === 0
      ? []
      : [
          {
            name: `${stem}-train-loss-vs-baseline`,
            title: `${task.task}: training loss minus the baseline's, paired by seed`,
            xTitle: 'Update (step)',
            yTitle: diffTitle,
            spec: curveSpec(
              `${task.task}: training loss minus the baseline's, paired by seed`,
              'Update (step)',
              diffTitle,
              diffRows,
              // The baseline's colour stays its own: the others keep theirs from the other figures.
              labels,
              undefined,
              diffRows.length <= 25 * Math.max(1, diffLabels.length),
              { zeroRule: true, legendLabels: diffLabels },
            ),
          },
        ];
  return [
    {
      name: `${stem}-test-${task.metric}`,
      title: `${task.task}: ${metricTitle.toLowerCase()} per epoch`,
      xTitle: 'Epoch',
      yTitle: metricTitle,
      spec: curveSpec(
        `${task.task}: ${metricTitle.toLowerCase()} per epoch`,
        'Epoch',
        metricTitle,
        testRows,
        labels,
        task.metric === 'accuracy' ? '.1%' : undefined,
        true,
      ),
    },
    {
      name: `${stem}-train-loss`,
      title: lossFigureTitle,
      xTitle: 'Update (step)',
      yTitle: lossTitle,
      spec: curveSpec(
        lossFigureTitle,
        'Update (step)',
        lossTitle,
        lossRows,
        labels,
        undefined,
        lossRows.length <= 25 * Math.max(1, labels.length),
        { logScale },
      ),
    },
    ...diffFigures,
    {
      name: `${stem}-cost`,
      title: `${task.task}: what each configuration costs`,
      xTitle: 'Configuration',
      yTitle: 'Time per epoch (s)',
      spec: costSpec(task, labels),
    },
  ];
}

/**
 * Renders a task's figures: test metric per epoch (`<stem>-test-<metric>`), training loss per
 * step (`<stem>-train-loss`), the training loss minus the baseline's, paired by seed
 * (`<stem>-train-loss-vs-baseline`, when a configuration pairs with it) and what each
 * configuration costs in time and memory (`<stem>-cost`).
 */
export async function taskFigures(task: TaskAnalysis, stem = slug(task.task)): Promise<Figure[]> {
  const out: Figure[] = [];
  for (const f of taskFigureSpecs(task, stem)) {
    const svg = await renderSvg(f.spec);
    out.push({
      name: f.name,
      title: f.title,
      xTitle: f.xTitle,
      yTitle: f.yTitle,
      svg,
      png: svgToPng(svg),
    });
  }
  return out;
}

/** Writes `<dir>/<name>.svg` and `<dir>/<name>.png` for each figure, atomically. */
export function writeFigures(dir: string, figures: readonly Figure[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of figures) {
    writeFileAtomic(path.join(dir, `${f.name}.svg`), f.svg);
    writeFileAtomic(path.join(dir, `${f.name}.png`), f.png);
  }
}
