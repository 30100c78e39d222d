import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { code: result.status, stderr: result.stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-diverge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a run whose metrics go non-finite', () => {
  const out = path.join(root, 'skip');

  it("with nonFiniteGradients 'skip' counts the skipped updates and ends non-zero", () => {
    const config = path.join(root, 'skip.json');
    writeFileSync(
      config,
      JSON.stringify({ learningRate: 1e6, optimizerOptions: { nonFiniteGradients: 'skip' } }),
    );
    const run = cli('train', '--task', 'mnist-tiny', '--config', config, '--out', out);
    expect(run.code).toBe(3);
    // The progress line warns, and the run stops after the first epoch with one line.
    expect(run.stderr).toMatch(/loss NaN \(\d+ updates skipped: non-finite gradients\)/);
    const message = run.stderr.split('\n').filter((l) => l.startsWith('weight-prediction:'));
    expect(message).toHaveLength(1);
    expect(message[0]).toMatch(
      /^weight-prediction: The run diverged: after epoch 1 \(update 29\) the train loss is NaN, test loss is NaN \((\d+) of 29 updates were skipped for a non-finite gradient\): lower the learning rate or set clipGlobalNorm/,
    );
    expect(run.stderr).not.toMatch(/test accuracy/);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(false);
    const diverged = JSON.parse(readFileSync(path.join(out, 'diverged.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const skipped = Number(/\((\d+) of 29/.exec(message[0]!)![1]);
    expect(skipped).toBeGreaterThan(0);
    expect(diverged).toMatchObject({ label: 'adamw', seed: 1, epoch: 1, step: 29 });
    expect(diverged.skippedUpdates).toBe(skipped);
    const records = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step: number; skippedUpdates?: number });
    const steps = records.filter((r) => r.type === 'step');
    expect(steps.length).toBeGreaterThan(0);
    // Cumulative counts, never more than the updates made.
    for (const r of steps) expect(r.skippedUpdates).toBeLessThanOrEqual(r.step);
    expect(records.at(-1)).toMatchObject({ type: 'epoch', skippedUpdates: skipped });
  });

  it('is not resumed (it would diverge again)', () => {
    const run = cli('train', '--task', 'mnist-tiny', '--out', out, '--resume');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/holds a run that diverged \(diverged\.json\)/);
  });
});

describe('compare with a configuration that diverges', () => {
  it('stops that configuration, reports it as diverged and still writes the report', () => {
    // At lr 150 SGD's gradients overflow within the first epoch; AdamW's steps stay bounded.
    const out = path.join(root, 'compare');
    const flags = ['--task', 'mnist-tiny', '--optimizer', 'adamw,sgd', '--prediction-steps', '0'];
    const run = cli(
      'compare',
      ...flags,
      '--lr',
      '150',
      '--seeds',
      '2',
      '--jobs',
      '1',
      '--epochs',
      '1',
      '--out',
      out,
    );
    expect(run.stderr).toMatch(/\[2\/4\] sgd, seed 1: diverged \(exit 3\): The run diverged/);
    expect(run.stderr).toMatch(/\[4\/4\] sgd, seed 2: not run: sgd diverged with seed 1/);
    expect(run.stderr).toMatch(/compare: sgd diverged .* the report lists it as diverged/);
    expect(run.code).toBe(0);
    expect(existsSync(path.join(out, 'runs', 'sgd', 'seed-2'))).toBe(false);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('Runs: 2 finished, 1 diverged (left out)');
    expect(md).toContain(`${path.join(out, 'runs', 'sgd', 'seed-1')} diverged: update `);
    expect(md).toMatch(/\| adamw \(baseline\) \| 2 \|/);

    const resumed = cli(
      'compare',
      ...flags,
      '--lr',
      '150',
      '--seeds',
      '2',
      '--jobs',
      '1',
      '--epochs',
      '1',
      '--out',
      out,
      '--resume',
    );
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/sgd, seed 1: diverged in an earlier sweep/);
    expect(resumed.stderr).toMatch(/sgd, seed 2: not run: sgd diverged with seed 1/);
  });
});
