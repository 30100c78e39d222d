import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

/** The real CLI, as a user runs it (TypeScript sources through tsx). */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('weight-prediction compare, end to end', () => {
  const out = path.join(root, 'compare');

  it('runs AdamW vs AdamW s=1 over 2 seeds and writes a report whose numbers match the logs', () => {
    const run = cli(
      'compare',
      '--task',
      'mnist-tiny',
      '--seeds',
      '2',
      '--epochs',
      '1',
      '--out',
      out,
    );
    expect(run.stderr).toContain('report:');
    expect(run.code).toBe(0);

    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| adamw \(baseline\) \| 2 \|/);
    expect(md).toMatch(/\| adamw s=1 \| 2 \|/);
    expect(md).toContain('weight-prediction compare --task mnist-tiny --seeds 2');
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');

    const figures = readdirSync(path.join(out, 'figures'));
    const pngs = figures.filter((f) => f.endsWith('.png'));
    expect(pngs.length).toBeGreaterThanOrEqual(2);
    for (const f of pngs) {
      const png = PNG.sync.read(readFileSync(path.join(out, 'figures', f)));
      expect(png.width).toBeGreaterThan(200);
      expect(png.height).toBeGreaterThan(100);
    }
    for (const f of figures.filter((f) => f.endsWith('.svg'))) {
      expect(readFileSync(path.join(out, 'figures', f), 'utf8')).toMatch(/^<svg|<svg /);
    }

    // report.json against the JSON Lines logs of each run.
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as {
      runs: {
        dir: string;
        summary: { final: { testMetric: number }; label: string; seed: number };
      }[];
    };
    expect(report.runs).toHaveLength(4);
    for (const r of report.runs) {
      const dir = path.isAbsolute(r.dir) ? r.dir : path.join(out, r.dir);
      const epochs = lines(path.join(dir, 'metrics.jsonl')).filter((l) => l.type === 'epoch');
      expect(epochs).toHaveLength(1);
      expect(r.summary.final.testMetric).toBe(epochs.at(-1)!.testMetric);
    }
  });

  it('resumes an interrupted sweep without redoing finished runs', () => {
    const unfinished = path.join(out, 'runs', 'adamw-s1', 'seed-2');
    const before = readFileSync(path.join(out, 'runs', 'adamw', 'seed-1', 'metrics.jsonl'), 'utf8');
    rmSync(path.join(unfinished, 'summary.json'));
    const run = cli(
      'compare',
      '--task',
      'mnist-tiny',
      '--seeds',
      '2',
      '--epochs',
      '1',
      '--out',
      out,
      '--resume',
    );
    expect(run.code).toBe(0);
    expect(run.stderr.match(/already finished/g)).toHaveLength(3);
    expect(existsSync(path.join(unfinished, 'summary.json'))).toBe(true);
    expect(readFileSync(path.join(out, 'runs', 'adamw', 'seed-1', 'metrics.jsonl'), 'utf8')).toBe(
      before,
    );
  });

  it('refuses to mix a different comparison into an existing folder', () => {
    const run = cli('compare', '--task', 'mnist-tiny', '--seeds', '3', '--out', out, '--resume');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/holds a different comparison/);
  });

  it('rebuilds the report from the logs with `report`', () => {
    const again = path.join(root, 'rebuilt');
    const run = cli('report', path.join(out, 'runs'), '--out', again);
    expect(run.code).toBe(0);
    expect(readFileSync(path.join(again, 'report.md'), 'utf8')).toMatch(/\| adamw s=1 \| 2 \|/);
  });
});

/** A Fashion-MNIST folder whose IDX files are all cut short after their headers. */
function badIdxDir(): string {
  const dir = path.join(root, 'bad-idx');
  mkdirSync(dir, { recursive: true });
  const images = Buffer.from([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]);
  const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0xea, 0x60]);
  for (const split of ['train', 't10k']) {
    writeFileSync(
      path.join(dir, `${split}-images-idx3-ubyte`),
      Buffer.concat([images, Buffer.alloc(100)]),
    );
    writeFileSync(
      path.join(dir, `${split}-labels-idx1-ubyte`),
      Buffer.concat([labels, Buffer.alloc(10)]),
    );
  }
  return dir;
}

/** A JSON config pointing the text corpus at a folder whose train.txt is empty. */
function emptyTextConfig(): string {
  const dir = path.join(root, 'empty-text');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'train.txt'), '');
  writeFileSync(path.join(dir, 'valid.txt'), 'a b c\n');
  writeFileSync(path.join(dir, 'test.txt'), 'a b c\n');
  const file = path.join(root, 'empty-text.json');
  writeFileSync(file, JSON.stringify({ dataDir: dir, data: { corpus: 'text' } }));
  return file;
}

describe('bad input: one line naming the flag, a non-zero exit, no stack trace', () => {
  it.each([
    [['compare', '--epochs', '0'], /--epochs <n>.*expected an integer >= 1/],
    [['compare', '--lr', 'fast'], /--lr <rates>.*"fast": expected a comma list of numbers > 0/],
    [['compare', '--prediction-steps', '1,x'], /--prediction-steps <list>.*comma list/],
    [['compare', '--optimizer', 'lamb'], /--optimizer <list>.*"lamb" is not one of/],
    [['compare', '--task', 'imagenet'], /--task <name>.*unknown task/],
    [['compare', '--schedule', 'linear'], /--schedule <name>.*Allowed choices/],
    [
      ['train', '--prediction-steps', '0,1'],
      /--prediction-steps <s>.*train runs one value; compare sweeps a list/,
    ],
    [
      ['train', '--config', '/nonexistent.json'],
      /--config \/nonexistent.json: cannot read the file/,
    ],
    [
      ['train', '--task', 'mnist-tiny', '--batch-size', '5000', '--out', path.join(root, 'big')],
      /batch size 5000/i,
    ],
    [
      ['train', '--task', 'fashion-resnet', '--data-dir', '/nonexistent/fashion'],
      /Fashion-MNIST folder not found: \/nonexistent\/fashion/,
    ],
    [['train', '--task', 'fashion-resnet', '--data-dir', badIdxDir()], /truncated/i],
    [['train', '--task', 'gutenberg-tiny', '--config', emptyTextConfig()], /empty/i],
    [
      [
        'train',
        '--task',
        'mnist-tiny',
        '--lr',
        '1e30',
        '--epochs',
        '1',
        '--out',
        path.join(root, 'nan'),
      ],
      /non-finite gradient .* weights and state were left unchanged/,
    ],
  ])('%s', (args, message) => {
    const run = cli(...args);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
