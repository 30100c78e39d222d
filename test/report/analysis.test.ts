import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  analyzeRuns,
  niceCeil,
  type Analysis,
  type ConfigAnalysis,
} from '../../src/report/analysis.js';
import { findRuns, readRun, readRuns, type RunData } from '../../src/report/runs.js';
import { ACCURACY_RUNS, tempDir, writeStandardFixture, writeSyntheticRun } from './synthetic.js';

function close(actual: number | null | undefined, expected: number, tol = 1e-12): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
}

let root: string;
let runs: RunData[];
let analysis: Analysis;

beforeAll(async () => {
  root = writeStandardFixture();
  runs = await readRuns(root);
  analysis = analyzeRuns(runs);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function config(task: string, label: string): ConfigAnalysis {
  const t = analysis.tasks.find((x) => x.task === task)!;
  return t.configs.find((c) => c.label === label)!;
}

describe('reading runs', () => {
  it('finds every run folder, finished or not', async () => {
    const dirs = await findRuns(root);
    expect(dirs).toHaveLength(11);
    expect(dirs.every((d) => d.startsWith(root))).toBe(true);
    expect(runs.filter((r) => r.finished)).toHaveLength(10);
  });

  it('reads records and summary of a finished run', async () => {
    const run = await readRun(path.join(root, 'mnist-mlp', 'adamw', 'seed-2'));
    expect(run.finished).toBe(true);
    expect(run.epochs.map((e) => e.testMetric)).toEqual([0.91, 0.95, 0.96]);
    // 300 updates logged every 10.
    expect(run.steps).toHaveLength(30);
    expect(run.summary!.seed).toBe(2);
    expect(run.warnings).toEqual([]);
  });

  it('an unfinished run keeps its whole lines and drops the partial one with a warning', async () => {
    const run = await readRun(path.join(root, 'mnist-mlp', 'adamw', 'seed-4'));
    expect(run.finished).toBe(false);
    expect(run.summary).toBeNull();
    expect(run.epochs).toHaveLength(2);
    expect(run.warnings.join()).toMatch(/partial last line/);
    expect(analysis.unfinished).toEqual([
      { dir: path.join(root, 'mnist-mlp', 'adamw', 'seed-4'), epochsLogged: 2, lastStep: 200 },
    ]);
    expect(analysis.warnings.join('\n')).toMatch(/seed-4 is unfinished/);
  });
});

describe('analysis of the accuracy task (3 seeds × 2 configurations)', () => {
  it('groups by task and label and picks the predictionSteps-0 baseline', () => {
    expect(analysis.tasks.map((t) => t.task).sort()).toEqual(['mnist-mlp', 'ptb-lstm']);
    const t = analysis.tasks.find((x) => x.task === 'mnist-mlp')!;
    expect(t.baseline).toBe('adamw');
    expect(t.metric).toBe('accuracy');
    expect(t.configs.map((c) => [c.label, c.predictionSteps, c.seeds])).toEqual([
      ['adamw', 0, [1, 2, 3]],
      ['adamw s=1', 1, [1, 2, 3]],
    ]);
  });

  it('final and best metric mean ± std over seeds', () => {
    const base = config('mnist-mlp', 'adamw');
    close(base.finalMetric.mean, 0.95);
    close(base.finalMetric.std, 0.01); // values 0.95, 0.96, 0.94
    expect(base.finalMetric.n).toBe(3);
    const s1 = config('mnist-mlp', 'adamw s=1');
    close(s1.finalMetric.mean, (0.96 + 0.97 + 0.945) / 3);
    close(s1.bestMetric.mean, (0.96 + 0.97 + 0.945) / 3);
    close(s1.finalMetric.min, 0.945);
    close(s1.finalMetric.max, 0.97);
  });

  it('paired difference vs baseline by seed, with CI and p (scipy.stats.ttest_rel)', () => {
    const d = config('mnist-mlp', 'adamw s=1').vsBaseline!;
    expect(d.pairedSeeds).toEqual([1, 2, 3]);
    expect(d.unmatchedSeeds).toEqual([]);
    // Differences 0.01, 0.01, 0.005: mean 1/120, sd √(1/12)/100 → t = 5, df = 2.
    close(d.finalMetric!.meanDiff, 0.025 / 3, 1e-9);
    close(d.finalMetric!.t, 5, 1e-9);
    expect(d.finalMetric!.df).toBe(2);
    // scipy 1.10.1: ttest_rel([.96,.97,.945],[.95,.96,.94]) → p 0.037749551350623724,
    // CI (0.0011622454501478766, 0.015504421216518804).
    close(d.finalMetric!.p, 0.037749551350623724, 1e-8);
    close(d.finalMetric!.ci95![0], 0.0011622454501478766, 1e-8);
    close(d.finalMetric!.ci95![1], 0.015504421216518804, 1e-8);
    expect(config('mnist-mlp', 'adamw').vsBaseline).toBeNull();
  });

  it('time per epoch, memory and extra memory vs baseline', () => {
    const base = config('mnist-mlp', 'adamw');
    const s1 = config('mnist-mlp', 'adamw s=1');
    close(base.secondsPerEpoch.mean, 2.2); // 2.1, 2.2, 2.3
    close(base.secondsPerEpoch.std, 0.1);
    close(s1.secondsPerEpoch.mean, 2.4);
    close(s1.vsBaseline!.secondsPerEpochRatio, 2.4 / 2.2);
    expect(base.optimizerMemoryBytes.mean).toBe(8000);
    expect(s1.vsBaseline!.extraMemoryBytes).toBe(4000);
  });

  it('time to the baseline mean final accuracy (0.95), with "not reached"', () => {
    const s1 = config('mnist-mlp', 'adamw s=1').timeToTarget;
    close(s1.target, 0.95);
    expect(s1.perSeed.map(({ elapsedSeconds: _, ...rest }) => rest)).toEqual([
      { seed: 1, reached: true, epoch: 2, step: 200 },
      { seed: 2, reached: true, epoch: 1, step: 100 },
      { seed: 3, reached: false, epoch: null, step: null },
    ]);
    // Seconds per epoch 2.2 + 0.1·seed: seed 1 after 2 epochs, seed 2 after 1.
    close(s1.perSeed[0]!.elapsedSeconds, 2 * 2.3);
    close(s1.perSeed[1]!.elapsedSeconds, 2.4);
    expect(s1.perSeed[2]!.elapsedSeconds).toBeNull();
    close(s1.elapsedSeconds!.mean, (4.6 + 2.4) / 2);
    expect([s1.reached, s1.total]).toEqual([2, 3]);
    close(s1.epoch!.mean, 1.5);
    close(s1.step!.mean, 150);
    const base = config('mnist-mlp', 'adamw').timeToTarget;
    // Seed 1 ends exactly on the target (0.95): it counts as reached despite float rounding.
    expect(base.perSeed.map((s) => s.epoch)).toEqual([3, 2, null]);
  });

  it('learning curves aggregate the seeds per epoch and per step bin', () => {
    const s1 = config('mnist-mlp', 'adamw s=1');
    expect(s1.curves.testMetric.map((p) => p.x)).toEqual([1, 2, 3]);
    close(s1.curves.testMetric[0]!.mean, (0.93 + 0.95 + 0.9) / 3);
    close(s1.curves.testMetric[0]!.min, 0.9);
    close(s1.curves.testMetric[0]!.max, 0.95);
    const t = analysis.tasks.find((x) => x.task === 'mnist-mlp')!;
    // 300 updates, at most 120 points → 2.5, rounded up to bins of 5 updates; one record each.
    expect(t.lossBinSteps).toBe(5);
    expect(s1.curves.trainLoss).toHaveLength(30);
    const first = s1.curves.trainLoss[0]!;
    expect(first.x).toBe(10); // step 10 falls in the bin of updates 6–10
    expect(first.n).toBe(3);
    // loss = 2·exp(−step/100) + 0.01·seed − 0.05, averaged over seeds 1..3.
    close(first.mean, 2 * Math.exp(-0.1) + 0.02 - 0.05, 1e-12);
    close(first.max - first.min, 0.02, 1e-9);
  });

  it("the training loss minus the baseline's is paired by seed and bin", () => {
    const t = analysis.tasks.find((x) => x.task === 'mnist-mlp')!;
    expect(config('mnist-mlp', 'adamw').curves.trainLossVsBaseline).toEqual([]);
    const diff = config('mnist-mlp', 'adamw s=1').curves.trainLossVsBaseline;
    // Every seed's s=1 loss is its baseline's − 0.05 at the same step (the seed term cancels).
    expect(diff).toHaveLength(30);
    expect(diff[0]!.x).toBe(10);
    for (const p of diff) {
      expect(p.n).toBe(3);
      close(p.mean, -0.05, 1e-12);
      close(p.max - p.min, 0, 1e-12);
    }
    expect(diff.map((p) => p.x)).toEqual(t.configs[0]!.curves.trainLoss.map((p) => p.x));
  });
});

describe('analysis of the perplexity task (lower is better)', () => {
  it('paired differences and time to target use ≤', () => {
    const s1 = config('ptb-lstm', 'adamw s=1');
    const d = s1.vsBaseline!.finalMetric!;
    close(d.meanDiff, -2.5);
    // scipy 1.10.1: ttest_rel([118,121],[120,124]) → t −5, p 0.12566591637800234.
    close(d.t, -5, 1e-9);
    close(d.p, 0.12566591637800234, 1e-8);
    close(s1.timeToTarget.target, 122);
    expect(s1.timeToTarget.perSeed.map((s) => s.epoch)).toEqual([3, 3]);
    expect(config('ptb-lstm', 'adamw').timeToTarget.perSeed.map((s) => s.reached)).toEqual([
      true,
      false,
    ]);
    expect(s1.vsBaseline!.extraMemoryBytes).toBe(1000);
  });

  it('an explicit baseline flips the comparison', () => {
    const other = analyzeRuns(runs, { baseline: 'adamw s=1' });
    const t = other.tasks.find((x) => x.task === 'ptb-lstm')!;
    expect(t.baseline).toBe('adamw s=1');
    const plain = t.configs.find((c) => c.label === 'adamw')!;
    close(plain.vsBaseline!.finalMetric!.meanDiff, 2.5);
    close(plain.timeToTarget.target, 119.5);
    expect(plain.timeToTarget.reached).toBe(0);
    expect(plain.timeToTarget.epoch).toBeNull();
  });

  it('an unknown baseline is a UserInputError listing the labels', () => {
    expect(() => analyzeRuns(runs, { baseline: 'sgd' })).toThrow(UserInputError);
    expect(() => analyzeRuns(runs, { baseline: 'sgd' })).toThrow(/"adamw", "adamw s=1"/);
  });
});

describe('niceCeil', () => {
  it('rounds up to 1, 2 or 5 × 10^k', () => {
    expect([0, 0.3, 1, 1.2, 2.5, 3, 7, 10, 11, 163, 5001].map(niceCeil)).toEqual([
      1, 1, 1, 2, 5, 5, 10, 10, 20, 200, 10000,
    ]);
  });
});

describe('n = 1 and unmatched seeds', () => {
  it('one seed per configuration: no std, CI or p, and nothing NaN in JSON', async () => {
    const dir = tempDir('one');
    try {
      writeSyntheticRun(path.join(dir, 'a'), ACCURACY_RUNS[0]!);
      writeSyntheticRun(path.join(dir, 'b'), { ...ACCURACY_RUNS[3]!, seed: 1 });
      const a = analyzeRuns(await readRuns(dir));
      const s1 = a.tasks[0]!.configs[1]!;
      expect(s1.finalMetric.std).toBeNull();
      expect(s1.vsBaseline!.finalMetric).toMatchObject({ n: 1, t: null, p: null, ci95: null });
      close(s1.vsBaseline!.finalMetric!.meanDiff, 0.01, 1e-9);
      expect(JSON.stringify(a)).not.toMatch(/NaN|Infinity/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('seeds without a baseline partner are left out of the paired test, with a warning', async () => {
    const dir = tempDir('unmatched');
    try {
      for (const r of ACCURACY_RUNS) writeSyntheticRun(path.join(dir, `${r.label}-${r.seed}`), r);
      writeSyntheticRun(path.join(dir, 'extra'), { ...ACCURACY_RUNS[3]!, seed: 9 });
      const a = analyzeRuns(await readRuns(dir));
      const vs = a.tasks[0]!.configs[1]!.vsBaseline!;
      expect(vs.pairedSeeds).toEqual([1, 2, 3]);
      expect(vs.unmatchedSeeds).toEqual([9]);
      expect(a.tasks[0]!.warnings.join()).toMatch(/seeds 9 have no adamw run/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('duplicate (task, label, seed) runs are a UserInputError naming both folders', async () => {
    const dir = tempDir('dup');
    try {
      writeSyntheticRun(path.join(dir, 'x'), ACCURACY_RUNS[0]!);
      writeSyntheticRun(path.join(dir, 'y'), ACCURACY_RUNS[0]!);
      const all = await readRuns(dir);
      expect(() => analyzeRuns(all)).toThrow(/Two runs of task "mnist-mlp".*x and .*y/);
      expect(() => analyzeRuns([])).toThrow(UserInputError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('corrupt logs give clear errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('corrupt');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function freshRun(name: string): string {
    const d = path.join(dir, name);
    writeSyntheticRun(d, ACCURACY_RUNS[0]!);
    return d;
  }
  async function expectError(d: string, pattern: RegExp): Promise<void> {
    const error = await readRun(d).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserInputError);
    expect((error as Error).message).toMatch(pattern);
  }

  it('a line that is not JSON names the file and line', async () => {
    const d = freshRun('bad-json');
    const file = path.join(d, 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[4] = '{"type":"step",oops}';
    fs.writeFileSync(file, lines.join('\n'));
    await expectError(d, /metrics\.jsonl line 5 is not valid JSON/);
  });

  it('a record with a wrong field names the field', async () => {
    const d = freshRun('bad-field');
    const file = path.join(d, 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[0] = JSON.stringify({ ...JSON.parse(lines[0]!), loss: 'NaN' });
    fs.writeFileSync(file, lines.join('\n'));
    await expectError(d, /metrics\.jsonl line 1: field "loss" is "NaN", expected a finite number/);
  });

  it('a corrupt or incomplete summary.json', async () => {
    const d = freshRun('bad-summary');
    fs.writeFileSync(path.join(d, 'summary.json'), '{"label": "adamw", ');
    await expectError(d, /summary\.json is not valid JSON/);
    const e = freshRun('summary-field');
    const s = JSON.parse(fs.readFileSync(path.join(e, 'summary.json'), 'utf8'));
    delete s.seed;
    fs.writeFileSync(path.join(e, 'summary.json'), JSON.stringify(s));
    await expectError(e, /summary\.json: field "seed" is undefined, expected an integer/);
  });

  it('a summary that disagrees with the log, and a finished run with a cut-off line', async () => {
    const d = freshRun('disagree');
    const s = JSON.parse(fs.readFileSync(path.join(d, 'summary.json'), 'utf8'));
    s.final.testMetric = 0.99;
    fs.writeFileSync(path.join(d, 'summary.json'), JSON.stringify(s));
    await expectError(d, /summary\.json disagrees with .*metrics\.jsonl/);
    const e = freshRun('cut');
    fs.appendFileSync(path.join(e, 'metrics.jsonl'), '{"type":"ep');
    await expectError(e, /line 34 is cut off/);
  });

  it('missing files and folders', async () => {
    const d = freshRun('no-metrics');
    fs.rmSync(path.join(d, 'metrics.jsonl'));
    await expectError(d, /no-metrics\/metrics\.jsonl is missing \(though summary\.json exists\)/);
    await expectError(path.join(dir, 'nowhere'), /Run folder .*nowhere does not exist/);
    await expect(findRuns(path.join(dir, 'nowhere'))).rejects.toThrow(
      /Results folder .*nowhere does not exist/,
    );
  });
});
