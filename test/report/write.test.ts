import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import type { EpochRecord } from '../../src/training/log-format.js';
import { findFont, svgToPng } from '../../src/report/plots.js';
import {
  inlineSvg,
  writeReport,
  type ReportJson,
  type ReportResult,
} from '../../src/report/write.js';
import { readRuns } from '../../src/report/runs.js';
import {
  PERPLEXITY_RUNS,
  SYNTHETIC_CORPUS,
  tempDir,
  writeStandardFixture,
  writeSyntheticRun,
} from './synthetic.js';

const meta = {
  command: 'weight-prediction compare --task mnist-mlp --seeds 3 --out results/x',
  packageVersion: '0.1.0-test',
  backend: 'wasm',
  machine: 'Test CPU × 2, 8 GiB',
};

let root: string;
let out: string;
let result: ReportResult;

beforeAll(async () => {
  root = writeStandardFixture();
  out = tempDir('out');
  result = await writeReport({ runsRoot: root, outDir: path.join(out, 'report'), meta });
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** Pixels that differ clearly from white. */
function inkPixels(png: PNG, region?: { x0: number; y0: number; x1: number; y1: number }): number {
  const r = region ?? { x0: 0, y0: 0, x1: png.width, y1: png.height };
  let ink = 0;
  for (let y = r.y0; y < r.y1; y++) {
    for (let x = r.x0; x < r.x1; x++) {
      const i = 4 * (y * png.width + x);
      if (png.data[i]! + png.data[i + 1]! + png.data[i + 2]! < 600) ink++;
    }
  }
  return ink;
}

describe('writeReport', () => {
  it('writes md, html, json and four figures per task (svg + png), nothing temporary left', () => {
    const dir = path.join(out, 'report');
    expect(fs.readdirSync(dir).sort()).toEqual([
      'figures',
      'report.html',
      'report.json',
      'report.md',
    ]);
    const stems = ['test-accuracy', 'train-loss', 'train-loss-vs-baseline', 'cost'];
    expect(fs.readdirSync(path.join(dir, 'figures')).sort()).toEqual(
      ['mnist-mlp', 'ptb-lstm']
        .flatMap((task) =>
          stems.map(
            (s) =>
              `${task}-${task === 'ptb-lstm' && s === 'test-accuracy' ? 'test-perplexity' : s}`,
          ),
        )
        .flatMap((f) => [`${f}.png`, `${f}.svg`])
        .sort(),
    );
    expect(result.files.figures).toHaveLength(16);
  });

  it('report.md: the tables hold the numbers of the synthetic runs', () => {
    const md = read(result.files.markdown);
    // Baseline final accuracy 0.95 / 0.96 / 0.94; s=1 differences 1, 1, 0.5 pp (scipy CI).
    expect(md).toMatch(/\| adamw \(baseline\) \| 3 \| 95\.00 ± 1\.00% \|/);
    expect(md).toMatch(
      /\| adamw s=1 \| 3 \| 95\.83 ± 1\.26% \| 95\.83 ± 1\.26% \| \+0\.83 pp \[\+0\.12, \+1\.55\] \| 0\.038 \|/,
    );
    // Perplexity: Δ −2.5, p 0.13 (scipy: 0.1257), extra memory 1000 B.
    expect(md).toMatch(
      /\| adamw s=1 \| 2 \| 119\.50 ± 2\.12 \| 119\.50 ± 2\.12 \| -2\.50 \[-8\.85, \+3\.85\] \| 0\.13 \|.*\| 2\.9 KiB \| 1000 B \|/,
    );
    // Time to target, with the per-seed detail and "not reached".
    expect(md).toMatch(/Time to the baseline's mean final accuracy \(95\.00%\)/);
    expect(md).toMatch(
      /\| adamw s=1 \| 2 \/ 3 \| 1\.50 ± 0\.71 \| 150 ± 71 \| 3\.50 ± 1\.56 s \| 1: epoch 2, 2: epoch 1, 3: not reached \| 1\.091× \|/,
    );
    // Epochs every seed reached at once are whole numbers, printed as such.
    expect(md).toMatch(/\| adamw \| 1 \/ 2 \| 3 \| 150 \| 30\.0 s \|/);
    expect(md).toMatch(/\| adamw s=1 \| 2 \/ 2 \| 3 ± 0 \| 150 ± 0 \|/);
    expect(md).toContain(
      '![mnist-mlp: test accuracy per epoch](figures/mnist-mlp-test-accuracy.png)',
    );
    expect(md).toContain(
      '![ptb-lstm: training loss (mean of 2-update bins)](figures/ptb-lstm-train-loss.png)',
    );
    // How it was made.
    expect(md).toContain(`\`\`\`\n${meta.command}\n\`\`\``);
    expect(md).toContain('weight-prediction 0.1.0-test');
    expect(md).toContain('Backend: wasm');
    expect(md).toMatch(/Reproducibility: .*bit for bit on the same CPU model .*thread count/);
    expect(md).toContain('Machine: Test CPU × 2, 8 GiB');
    expect(md).toContain('Runs: 10 finished, 1 unfinished (left out)');
    expect(md).toMatch(/seed-4 is unfinished/);
    expect(md).toMatch(/## How to read this report/);
    expect(md).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('report.html is self-contained: inline CSS and SVG, no external requests', () => {
    const html = read(result.files.html);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html.match(/<svg/g)).toHaveLength(8);
    expect(html).not.toMatch(/\ssrc=|<link|@import|url\((?!#)|<script/i);
    // Every href is an in-document namespace or fragment, never a URL to fetch.
    expect(html.match(/href="[^#"][^"]*"/g) ?? []).toEqual([]);
    expect(html).toContain('<td class="num">+0.83 pp [+0.12, +1.55]</td>');
    expect(html).toContain('adamw s=1');
    expect(html).not.toMatch(/NaN|undefined/);
  });

  it('SVG figures parse and carry their axis titles and both configurations', () => {
    for (const [name, xTitle, yTitle] of [
      ['mnist-mlp-test-accuracy', 'Epoch', 'Test accuracy'],
      ['mnist-mlp-train-loss', 'Update (step)', 'Training loss (log scale)'],
      ['mnist-mlp-train-loss-vs-baseline', 'Update (step)', "Training loss − adamw's (same seed)"],
      // Perplexity summaries without "evaluatedOn" were measured on the validation split.
      ['ptb-lstm-test-perplexity', 'Epoch', 'Validation perplexity'],
    ] as const) {
      const svg = read(path.join(out, 'report', 'figures', `${name}.svg`));
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(svg).toContain(`>${xTitle}</text>`);
      expect(svg).toContain(`>${yTitle}</text>`);
      expect(svg).toContain('>adamw s=1</text>');
      // A line per configuration, in the first two colours of the default scheme.
      expect(svg).toContain('class="mark-line role-mark');
      if (!name.endsWith('-vs-baseline')) expect(svg).toContain('stroke="#4c78a8"');
      expect(svg).toContain('stroke="#f58518"');
    }
  });

  it('PNG figures decode to twice the SVG size, with ink in the plot and in the axis titles', () => {
    for (const name of ['mnist-mlp-test-accuracy', 'ptb-lstm-train-loss']) {
      const svg = read(path.join(out, 'report', 'figures', `${name}.svg`));
      const w = Number(/width="(\d+)"/.exec(svg)![1]);
      const h = Number(/height="(\d+)"/.exec(svg)![1]);
      const png = PNG.sync.read(
        fs.readFileSync(path.join(out, 'report', 'figures', `${name}.png`)),
      );
      expect([png.width, png.height]).toEqual([2 * w, 2 * h]);
      expect(png.width).toBeGreaterThan(800);
      expect(inkPixels(png)).toBeGreaterThan(0.01 * png.width * png.height);
      // The bottom 6 % of the image holds only the x-axis title: it must have been drawn.
      const bottom = { x0: 0, y0: Math.floor(png.height * 0.94), x1: png.width, y1: png.height };
      expect(inkPixels(png, bottom)).toBeGreaterThan(50);
    }
  });

  it('a verdict line per task, worded from the interval, with what prediction costs', () => {
    const md = read(result.files.markdown);
    const verdict = md.slice(md.indexOf('## Verdict'), md.indexOf('## How to read'));
    // mnist: +0.83 pp [+0.12, +1.55] leaves 0 out; ptb: −2.50 [−8.85, +3.85] includes it.
    expect(verdict).toContain(
      '- mnist-mlp: adamw s=1 vs adamw: final test accuracy +0.83 pp [+0.12, +1.55] (3 seeds), better than the baseline in these seeds (the 95% interval leaves out 0); +3.9 KiB optimizer memory, 1.09× time per epoch',
    );
    expect(verdict).toContain(
      '- ptb-lstm: adamw s=1 vs adamw: final validation perplexity -2.50 [-8.85, +3.85] (2 seeds), not distinguishable from seed noise; +1000 B optimizer memory,',
    );
    // The Kneser-Ney bigram the runs logged (121): s=1 (119.50) is below it, adamw (122.00) not.
    expect(verdict).toContain(
      '- ptb-lstm: Kneser-Ney bigram validation perplexity 121.00 on the same tokens: adamw (122.00) ends at or above it: not trained past word-pair counts',
    );
    expect(verdict).not.toMatch(/mnist-mlp: Kneser-Ney/);
    // The task's section gives the bigram and the data beside the results.
    const task = md.slice(
      md.indexOf('## Task ptb-lstm'),
      md.indexOf('### Final results', md.indexOf('## Task ptb-lstm')),
    );
    expect(task).toContain(
      'Kneser-Ney bigram perplexity: validation 121.00, test 130.50 (interpolated Kneser-Ney, discounts 0.750 for pairs and 0.750 for continuation counts, counted on the same 1,252,740 training pairs',
    );
    expect(task).toMatch(
      /Data: 10,002 words in the vocabulary \(\\<unk> and \\<eos> included\); 1,252,765 \/ 71,436 \/ 74,118 training \/ validation \/ test tokens, \\<unk> 4\.47% \/ 5\.28% \/ 5\.41% of them\./,
    );
    // The verdict comes before the tables.
    expect(md.indexOf('## Verdict')).toBeLessThan(md.indexOf('### Final results'));
  });

  it('the training-loss figures: log scale, and the paired difference around a zero line', () => {
    const loss = read(path.join(out, 'report', 'figures', 'mnist-mlp-train-loss.svg'));
    expect(loss).toMatch(/for a log scale/);
    const diff = read(path.join(out, 'report', 'figures', 'mnist-mlp-train-loss-vs-baseline.svg'));
    expect(diff).toContain('class="mark-rule role-mark');
    // Only the configuration compared is in the legend, not the baseline (always 0).
    expect(diff).not.toContain('>adamw</text>');
    const cost = read(path.join(out, 'report', 'figures', 'mnist-mlp-cost.svg'));
    expect(cost).toContain('>Time per epoch (s)</text>');
    expect(cost).toContain('>Optimizer memory (KiB)</text>');
  });

  it('report.json holds every number and matches the JSONL logs', () => {
    const json = JSON.parse(read(result.files.json)) as ReportJson;
    expect(json.format).toBe('weight-prediction-report');
    expect(json.meta).toEqual(meta);
    expect(json.runs).toHaveLength(11);
    for (const run of json.runs) {
      // Parse the log independently of the reader under test.
      const lines = read(path.join(run.dir, 'metrics.jsonl')).split('\n');
      const epochs = lines
        .slice(0, -1)
        .map((l) => JSON.parse(l) as { type: string })
        .filter((r): r is EpochRecord => r.type === 'epoch');
      expect(run.epochs).toEqual(epochs);
      if (run.finished) {
        const summary = JSON.parse(read(path.join(run.dir, 'summary.json')));
        expect(run.summary).toEqual(summary);
        expect(summary.final.testMetric).toBe(epochs[epochs.length - 1]!.testMetric);
      } else {
        expect(run.summary).toBeNull();
      }
    }
    const task = json.analysis.tasks.find((t) => t.task === 'mnist-mlp')!;
    for (const c of task.configs) {
      const finals = json.runs
        .filter((r) => r.summary?.label === c.label && r.summary.task === 'mnist-mlp')
        .map((r) => r.epochs[r.epochs.length - 1]!.testMetric);
      expect(finals).toHaveLength(3);
      expect(c.finalMetric.mean).toBeCloseTo(finals.reduce((a, b) => a + b) / 3, 14);
      // The per-epoch curve is the mean of the logged epoch metrics.
      for (const p of c.curves.testMetric) {
        const at = json.runs
          .filter((r) => r.summary?.label === c.label && r.summary.task === 'mnist-mlp')
          .map((r) => r.epochs.find((e) => e.epoch === p.x)!.testMetric);
        expect(p.mean).toBeCloseTo(at.reduce((a, b) => a + b) / at.length, 14);
      }
    }
    expect(json.figures.map((f) => f.png)).toContain('figures/mnist-mlp-test-accuracy.png');
    expect(read(result.files.json)).not.toMatch(/NaN|Infinity/);
  });

  it('language-model runs that did not log a Kneser-Ney bigram say so; every run below it says so', async () => {
    const dir = tempDir('lm');
    try {
      const write = (sub: string, corpus: typeof SYNTHETIC_CORPUS | undefined) => {
        for (const run of PERPLEXITY_RUNS) {
          const { corpus: _, ...bare } = run;
          writeSyntheticRun(
            path.join(dir, sub, run.label.replace(/\W+/g, '-'), `seed-${run.seed}`),
            {
              ...bare,
              ...(corpus && { corpus }),
            },
          );
        }
      };
      write('old', undefined);
      const old = await writeReport({
        runsRoot: path.join(dir, 'old'),
        outDir: path.join(dir, 'r1'),
        meta,
      });
      const md = read(old.files.markdown);
      expect(md).toContain("Kneser-Ney bigram perplexity: not in these runs' logs");
      expect(md).not.toMatch(/ptb-lstm: Kneser-Ney/);
      // A bigram at 130: both configurations (122.00, 119.50) end below it.
      write('new', {
        ...SYNTHETIC_CORPUS,
        kneserNeyBigram: { ...SYNTHETIC_CORPUS.kneserNeyBigram, perplexity: { validation: 130 } },
      });
      const fresh = await writeReport({
        runsRoot: path.join(dir, 'new'),
        outDir: path.join(dir, 'r2'),
        meta,
      });
      expect(read(fresh.files.markdown)).toContain(
        '- ptb-lstm: Kneser-Ney bigram validation perplexity 130.00 on the same tokens: every configuration ends below it (the lowest mean 119.50, 8.1% below)',
      );
      // A damaged field is named.
      const summaryFile = path.join(dir, 'new', 'adamw', 'seed-1', 'summary.json');
      const summary = JSON.parse(read(summaryFile)) as {
        corpus: { unkRate: { validation: number } };
      };
      summary.corpus.unkRate.validation = 2;
      fs.writeFileSync(summaryFile, JSON.stringify(summary));
      await expect(readRuns(path.join(dir, 'new'))).rejects.toThrow(
        /"corpus" "unkRate": field "validation" is 2, expected at most 1/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input: an outDir that is a file, no runs, both or neither source', async () => {
    const file = path.join(out, 'a-file');
    fs.writeFileSync(file, 'x');
    await expect(writeReport({ runsRoot: root, outDir: file, meta })).rejects.toThrow(
      /is a file, not a folder/,
    );
    const empty = tempDir('empty');
    try {
      await expect(writeReport({ runsRoot: empty, outDir: out, meta })).rejects.toThrow(
        /No runs to report/,
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    await expect(writeReport({ outDir: out, meta })).rejects.toThrow(UserInputError);
  });
});

describe('inlining SVG in HTML', () => {
  it('prefixes ids and their references, drops the prolog and scripts', () => {
    const svg =
      '<?xml version="1.0"?>\n<svg><defs><clipPath id="clip1"><rect/></clipPath></defs>' +
      '<g clip-path="url(#clip1)"><use href="#clip1"/></g><script>alert(1)</script></svg>';
    expect(inlineSvg(svg, 'f2')).toBe(
      '<svg><defs><clipPath id="f2-clip1"><rect/></clipPath></defs>' +
        '<g clip-path="url(#f2-clip1)"><use href="#f2-clip1"/></g></svg>',
    );
  });
});

describe('fonts for PNG text', () => {
  it('a font file is found and text renders to pixels', () => {
    const font = findFont();
    // Debian: apt-get install -y fonts-dejavu-core provides DejaVu Sans.
    expect(font, 'no font found: install fonts-dejavu-core').not.toBeNull();
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">' +
      '<text x="10" y="28" font-family="sans-serif" font-size="22">Epoch</text></svg>';
    const png = PNG.sync.read(Buffer.from(svgToPng(svg, 1)));
    expect([png.width, png.height]).toEqual([200, 40]);
    expect(inkPixels(png)).toBeGreaterThan(100);
  });
});
