import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

/** The real CLI, as a user runs it (TypeScript sources through tsx), from `cwd`. */
function cli(args: string[], cwd = repo) {
  const result = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), path.join(repo, 'src/cli/main.ts'), ...args],
    { encoding: 'utf8', timeout: 180_000, cwd },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('weight-prediction train: what it offers is what it accepts', () => {
  it('help offers one prediction-step count and one optimizer to train, lists to compare', () => {
    const train = cli(['train', '--help']).stdout;
    expect(train).toContain('--prediction-steps <s>');
    expect(train).toContain('--optimizer <name>');
    expect(train).not.toContain('<list>');
    expect(train).toContain('--overwrite');
    expect(train).toContain('runs/train/<task>/<label>/seed-<n>');
    const compare = cli(['compare', '--help']).stdout;
    expect(compare).toContain('--prediction-steps <list>');
    expect(compare).toContain('--optimizer <list>');
    expect(compare).not.toContain('--overwrite');
  });

  it('refuses a list where train takes one value, and says where lists go', () => {
    for (const args of [
      ['--prediction-steps', '0,1'],
      ['--optimizer', 'adamw,adam'],
    ]) {
      const run = cli(['train', '--task', 'mnist-tiny', ...args]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/compare sweeps a list/);
    }
  });

  it('1 epoch, --overwrite, and a finished run asked for more epochs', () => {
    const out = path.join(root, 'one');
    const first = cli(['train', '--task', 'mnist-tiny', '--epochs', '1', '--out', out]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/after 1 epoch \(/);
    // The summary records the backend in full, as the CLI printed it: addon on or off, threads.
    const backendLine = /^backend: (.*)$/m.exec(first.stderr)![1]!;
    expect(backendLine).toMatch(/native addon/);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
      backendDetail?: string;
    };
    expect(summary.backendDetail).toBe(backendLine);
    // …and a report of the run says it in its header, with the machine and what a rerun must match.
    const report = cli(['report', out, '--out', path.join(root, 'one-report')]);
    expect(report.code).toBe(0);
    const md = readFileSync(path.join(root, 'one-report', 'report.md'), 'utf8');
    expect(md).toContain(`- Backend: ${backendLine}\n`);
    expect(md).toMatch(/- Machine: \d+ × .+, \d+ GiB\n- Reproducibility: /);
    expect(md).toMatch(/- mnist-tiny: only adamw was run, nothing to compare/);

    const again = cli(['train', '--task', 'mnist-tiny', '--epochs', '1', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a run/);

    const more = cli(['train', '--task', 'mnist-tiny', '--epochs', '2', '--resume', '--out', out]);
    expect(more.code).toBe(2);
    expect(more.stderr).toMatch(
      /holds a finished run of 1 epoch; .*2 epochs is a different run, not a continuation.*another output folder.*--overwrite/,
    );

    const replaced = cli([
      'train',
      '--task',
      'mnist-tiny',
      '--epochs',
      '2',
      '--overwrite',
      '--out',
      out,
    ]);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toMatch(/after 2 epochs \(/);

    const both = cli(['train', '--task', 'mnist-tiny', '--resume', '--overwrite', '--out', out]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--resume and --overwrite contradict/);
  }, 300_000);

  it("writes to runs/train/<task>/… by default, outside compare's runs/<task>", () => {
    const cwd = mkdtempSync(path.join(root, 'cwd-'));
    const run = cli(['train', '--task', 'mnist-tiny', '--epochs', '1', '--quiet'], cwd);
    expect(run.code).toBe(0);
    expect(existsSync(path.join(cwd, 'runs/train/mnist-tiny/adamw/seed-1/summary.json'))).toBe(
      true,
    );
    expect(existsSync(path.join(cwd, 'runs/mnist-tiny'))).toBe(false);
  }, 120_000);
});
