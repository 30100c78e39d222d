import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TuningResult } from '../../src/report/protocol.js';

/** The real CLI, as a user runs it (TypeScript sources through tsx). */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 400_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-tune-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('compare: setting lists and --tune', () => {
  it.each([
    [['--lr', '1e-3,,abc'], /--lr.*an empty item, "abc": expected a comma list of numbers > 0/],
    [['--lr', '-1'], /--lr.*"-1": expected a comma list of numbers > 0/],
    [['--weight-decay', '0,x'], /--weight-decay.*"x": expected a comma list of numbers >= 0/],
    [['--lr', '1e-3,1e-3'], /listed twice/],
    [
      ['--tune', '--lr', '1e-3'],
      /--tune has nothing to tune: one learning rate and one weight decay/,
    ],
    [['--tune-seeds', '2', '--lr', '1e-3,3e-3'], /--tune-seeds sets the seeds of --tune/],
    [['--queue', 'redis://127.0.0.1:1', '--jobs', '2'], /with --queue the workers train them/],
    [
      ['--queue', 'http://localhost:6379'],
      /--queue http:\/\/localhost:6379: expected redis:\/\/HOST:PORT/,
    ],
  ])('rejects %j before anything runs', (flags, message) => {
    const out = path.join(root, `bad-${flags.join('_').replace(/[^a-z0-9]/gi, '')}`);
    const run = cli('compare', '--task', 'mnist-tiny', ...flags, '--out', out);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('train takes one value of a list only', () => {
    const run = cli(
      'train',
      '--task',
      'mnist-tiny',
      '--lr',
      '1e-3,3e-3',
      '--out',
      path.join(root, 't'),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/learningRate lists 2 values .* give one --lr value/);
  });

  it('tunes each configuration on validation, then evaluates the chosen settings on fresh seeds', () => {
    const out = path.join(root, 'tuned');
    const run = cli(
      'compare',
      '--task',
      'mnist-tiny',
      '--epochs',
      '1',
      '--lr',
      '1e-3,1e-2',
      '--tune',
      '--tune-seeds',
      '1',
      '--seeds',
      '2',
      '--jobs',
      '2',
      '--out',
      out,
    );
    expect(run.stderr).toContain('report:');
    expect(run.code).toBe(0);
    const tuning = JSON.parse(
      readFileSync(path.join(out, 'tuning', 'tuning.json'), 'utf8'),
    ) as TuningResult;
    expect(tuning.tuningSeeds).toEqual([1001]);
    expect(tuning.evaluationSeeds).toEqual([1, 2]);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    for (const choice of tuning.choices) {
      // The chosen setting is the best mean validation metric of the sensitivity table.
      const best = Math.max(...choice.points.map((p) => p.mean));
      const chosen = choice.points.find(
        (p) => p.setting.learningRate === choice.chosen.learningRate,
      )!;
      expect(chosen.mean).toBe(best);
      // Each point's validation metric is that of its tuning run's summary.
      for (const p of choice.points) {
        const slug = p.runLabel.replace(/\s+s=/g, '-s').replace(/[^A-Za-z0-9._-]+/g, '-');
        const summary = JSON.parse(
          readFileSync(path.join(out, 'tuning', 'runs', slug, 'seed-1001', 'summary.json'), 'utf8'),
        ) as { final: { validMetric: number } };
        expect(p.validMetric).toEqual([summary.final.validMetric]);
      }
      // The evaluation runs used the chosen learning rate, on the evaluation seeds only.
      const dir = choice.label.replace(/\s+s=/g, '-s');
      for (const seed of [1, 2]) {
        const config = JSON.parse(
          readFileSync(path.join(out, 'runs', dir, `seed-${seed}`, 'run-config.json'), 'utf8'),
        ) as { seed: number; label: string; recipe: { learningRate: number } };
        expect(config.recipe.learningRate).toBe(choice.chosen.learningRate);
        expect(config.label).toBe(choice.label);
      }
      expect(md).toMatch(
        new RegExp(
          `\\| ${choice.label} \\| ${choice.chosen.learningRate} \\| 0.01 \\|[^\\n]*\\| chosen \\|`,
        ),
      );
    }
    expect(existsSync(path.join(out, 'runs', 'adamw', 'seed-1001'))).toBe(false);
    expect(md).toContain('### Primary endpoint');
    expect(md).toContain('p (Wilcoxon, exact)');
    expect(md).toContain('### Secondary comparisons (Holm-corrected)');
    expect(md).toContain('### Tuning');
    // Two learning rates: whichever is chosen lies at an edge of the grid, and the report says so.
    expect(md).toMatch(
      /At the edge of the grid: adamw chose the (largest|smallest) learning rate listed/,
    );
    expect(md).toContain('figures/mnist-tiny-sensitivity.png');
    expect(existsSync(path.join(out, 'figures', 'mnist-tiny-sensitivity.svg'))).toBe(true);

    // `report` rebuilds the same tuned report from the folder.
    const rebuilt = cli('report', path.join(out, 'runs'), '--out', path.join(root, 'rebuilt'));
    expect(rebuilt.code).toBe(0);
    const again = readFileSync(path.join(root, 'rebuilt', 'report.md'), 'utf8');
    expect(again).toContain('### Tuning');
  }, 600_000);
});
