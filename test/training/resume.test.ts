import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MetricsRecord } from '../../src/training/log-format.js';
import { readMetrics, withoutTimings } from './fixtures.js';

const CHILD = path.join(import.meta.dirname, 'resume-child.ts');

function start(task: string, dir: string, mode: 'fresh' | 'resume', delayMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, task, dir, mode, String(delayMs)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, exit, stderr: () => stderr };
}

async function runToEnd(task: string, dir: string, mode: 'fresh' | 'resume') {
  const run = start(task, dir, mode, 0);
  const code = await run.exit;
  if (code !== 0) throw new Error(`child exited with ${code}: ${run.stderr()}`);
}

function countLines(file: string): number {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0).length;
  } catch {
    return 0;
  }
}

/** Starts a run and SIGKILLs it once metrics.jsonl holds `lines` lines (logEvery 1: one per step). */
async function killAt(task: string, dir: string, mode: 'fresh' | 'resume', lines: number) {
  const run = start(task, dir, mode, 25);
  const metrics = path.join(dir, 'metrics.jsonl');
  let finished = false;
  void run.exit.then(() => (finished = true));
  while (!finished && countLines(metrics) < lines) await new Promise((r) => setTimeout(r, 2));
  (run.child as ChildProcess).kill('SIGKILL');
  const code = await run.exit;
  expect(code, `the child finished before it could be killed: ${run.stderr()}`).toBe('SIGKILL');
  expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(false);
}

function results(dir: string) {
  const metrics: MetricsRecord[] = readMetrics(
    fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'),
  );
  const weights = JSON.parse(fs.readFileSync(path.join(dir, 'final-weights.json'), 'utf8'));
  return { metrics, weights };
}

describe('kill and resume', () => {
  it.each([
    // [task, metrics.jsonl line counts at which successive runs are killed]
    ['classifier', [4, 13]],
    ['lm', [7]],
  ] as const)(
    '%s: a run SIGKILLed part way and resumed ends exactly as an uninterrupted run',
    async (task, killPoints) => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), `resume-${task}-`));
      const reference = path.join(root, 'reference');
      const resumed = path.join(root, 'resumed');
      await runToEnd(task, reference, 'fresh');

      let mode: 'fresh' | 'resume' = 'fresh';
      for (const lines of killPoints) {
        await killAt(task, resumed, mode, lines);
        mode = 'resume';
      }
      await runToEnd(task, resumed, 'resume');

      const a = results(reference);
      const b = results(resumed);
      // Loss values, accuracies and learning rates exactly equal; only timings may differ.
      expect(b.metrics.map(withoutTimings)).toEqual(a.metrics.map(withoutTimings));
      expect(b.weights).toEqual(a.weights);
      expect(a.metrics.filter((r) => r.type === 'epoch').length).toBeGreaterThan(2);
    },
    120_000,
  );
});
