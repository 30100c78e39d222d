import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/lock.js';

// Real processes: a long `compare` (2000 epochs, never reached), stopped by signals. Linux only
// (workers are found through /proc).

const root = mkdtempSync(path.join(tmpdir(), 'wp-procs-'));
const out = path.join(root, 'cmp');
const args = ['compare', '--task', 'mnist-tiny', '--seeds', '1', '--epochs', '2000', '--out', out];
const cliArgs = ['--import', 'tsx', 'src/cli/main.ts'];
const started: number[] = [];

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  rmSync(root, { recursive: true, force: true });
});

function startCompare(...extra: string[]) {
  const child = spawn(process.execPath, [...cliArgs, ...args, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.push(child.pid!);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  return { child, exited, stderr: () => stderr };
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by its new parent, does not). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The `train --run-config` workers whose parent is `parent`. */
function workersOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (ppid === parent && cmdline.includes('--run-config') && isRunning(Number(name))) {
        pids.push(Number(name));
      }
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

async function waitFor(what: string, condition: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const trainingStarted = () =>
  ['adamw', 'adamw-s1'].every((label) =>
    existsSync(path.join(out, 'runs', label, 'seed-1', 'metrics.jsonl')),
  );

describe.skipIf(process.platform !== 'linux')('compare and its workers, as processes', () => {
  let first: ReturnType<typeof startCompare>;
  let workers: number[] = [];

  it('a second compare on the same --out is refused, naming the holder', async () => {
    first = startCompare();
    await waitFor('both workers to train', trainingStarted, 150);
    const second = spawnSync(process.execPath, [...cliArgs, ...args, '--resume'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(
      `--out ${out} is in use by another weight-prediction command (pid ${first.child.pid} on `,
    );
    expect(second.stderr).toMatch(/wait for it to finish, or stop it/);
    expect(workersOf(second.pid!)).toEqual([]);
    expect(isRunning(first.child.pid!)).toBe(true);
  }, 300_000);

  it('SIGTERM goes to the workers and compare exits after them, releasing its lock', async () => {
    workers = workersOf(first.child.pid!);
    expect(workers).toHaveLength(2);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(143);
    for (const pid of workers) expect(isRunning(pid)).toBe(false);
    expect(first.stderr()).toMatch(/interrupted \(SIGTERM\)/);
    expect(first.stderr()).toMatch(/stopped by SIGTERM; finish the comparison .* --resume/);
    expect(existsSync(path.join(out, LOCK_FILE))).toBe(false);
  }, 120_000);

  it('after kill -9 of compare its workers stop on their own', async () => {
    const again = startCompare('--resume');
    await waitFor('two workers', () => workersOf(again.child.pid!).length === 2, 150);
    workers = workersOf(again.child.pid!);
    started.push(...workers);
    await new Promise((r) => setTimeout(r, 2000));
    again.child.kill('SIGKILL');
    await again.exited;
    await waitFor('the orphaned workers to exit', () => !workers.some(isRunning), 30);
    // The lock of the killed compare is left behind, naming a process that no longer runs.
    expect(existsSync(path.join(out, LOCK_FILE))).toBe(true);
  }, 300_000);

  it('the stale lock is taken over, and SIGINT stops compare and its workers', async () => {
    const third = startCompare('--resume');
    await waitFor('two workers', () => workersOf(third.child.pid!).length === 2, 150);
    workers = workersOf(third.child.pid!);
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(130);
    for (const pid of workers) expect(isRunning(pid)).toBe(false);
    expect(third.stderr()).toMatch(/stopped by SIGINT/);
    expect(existsSync(path.join(out, LOCK_FILE))).toBe(false);
  }, 300_000);
});
