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

function rows(task: TaskAnalysis, pick: 'testMetric' | 'trainLoss'): CurveRow[] {
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
): TopLevelSpec {
  const yAxis = yFormat === undefined ? { title: yTitle } : { title: yTitle, format: yFormat };
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
        mark: { type: 'line', point: points, strokeWidth: 2 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
    ],
  };
}

/** What each figure of a task shows, before rendering. */
export function taskFigureSpecs(
  task: TaskAnalysis,
  stem = slug(task.task),
): { name: string; title: string; xTitle: string; yTitle: string; spec: TopLevelSpec }[] {
  const labels = task.configs.map((c) => c.label);
  const split = task.evaluatedOn === 'test' ? 'Test' : 'Validation';
  const metricTitle = `${split} ${task.metric}`;
  const lossTitle = `Training loss (mean of ${task.lossBinSteps}-update bins)`;
  const testRows = rows(task, 'testMetric');
  const lossRows = rows(task, 'trainLoss');
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
      title: `${task.task}: training loss`,
      xTitle: 'Update (step)',
      yTitle: lossTitle,
      spec: curveSpec(
        `${task.task}: training loss`,
        'Update (step)',
        lossTitle,
        lossRows,
        labels,
        undefined,
        lossRows.length <= 25 * Math.max(1, labels.length),
      ),
    },
  ];
}

/**
 * Renders a task's learning-curve figures (test metric per epoch, training loss per step), named
 * `<stem>-test-<metric>` and `<stem>-train-loss`.
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
