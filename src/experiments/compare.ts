import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { SUMMARY_FILE } from '../training/loop.js';
import { gridCells, resolveRun, type Overrides, type RunConfig, type SweepCell } from './config.js';

export const SWEEP_FILE = 'sweep.json';

/** One run of a sweep: its configuration and its folder. */
export interface PlannedRun {
  config: RunConfig;
  dir: string;
}

export interface SweepPlan {
  out: string;
  runs: PlannedRun[];
}

/** File-system-safe folder name for a configuration label (`adamw s=1` → `adamw-s1`). */
export function labelSlug(label: string): string {
  return label.replace(/\s+s=/g, '-s').replace(/[^A-Za-z0-9._-]+/g, '-');
}

/**
 * The runs of a comparison: every optimizer × s cell (× learning rate × weight decay when they are
 * lists) for seeds 1..N (or `seeds`), ordered seed by seed so the paired runs of one seed train at
 * the same time (they then share the machine's load alike).
 */
export function planSweep(
  overrides: Overrides,
  out: string,
  cells: SweepCell[] = gridCells(overrides),
  seeds: number[] = Array.from({ length: overrides.seeds ?? 3 }, (_, i) => i + 1),
): SweepPlan {
  const runs: PlannedRun[] = [];
  for (const seed of seeds) {
    for (const cell of cells) {
      const config = resolveRun(overrides, cell, seed);
      runs.push({ config, dir: path.join(out, 'runs', labelSlug(config.label), `seed-${seed}`) });
    }
  }
  return { out, runs };
}

/**
 * Checks the output folder against what is asked: a fresh folder, or with `resume` the same
 * comparison as before (its sweep.json), so finished runs are not redone and others resume.
 */
export function prepareSweepFolder(plan: SweepPlan, resume: boolean, command: string): void {
  const file = path.join(plan.out, SWEEP_FILE);
  const planned = plan.runs.map((r) => r.config);
  if (existsSync(file)) {
    if (!resume) {
      throw new UserInputError(
        `${plan.out} already holds a comparison: pass --resume to finish it, or choose another --out`,
      );
    }
    const previous = JSON.parse(readFileSync(file, 'utf8')) as { runs: RunConfig[] };
    if (JSON.stringify(previous.runs) !== JSON.stringify(planned)) {
      throw new UserInputError(
        `${plan.out} holds a different comparison (other settings or seeds) than the one asked for: resume it with the same flags, or choose another --out`,
      );
    }
    return;
  }
  mkdirSync(plan.out, { recursive: true });
  writeFileAtomic(file, JSON.stringify({ command, runs: planned }, null, 2) + '\n');
}

export interface WorkerResult {
  run: PlannedRun;
  ok: boolean;
  skipped: boolean;
  seconds: number;
  message: string;
}

/**
 * Runs every planned run in its own worker process (one TF.js per process), `jobs` at a time.
 * Finished runs (with summary.json) are skipped; unfinished ones resume from their checkpoint.
 * `spawnArgs` is how to start the CLI's `train` command (node, its flags and the script).
 */
export async function executeSweep(
  plan: SweepPlan,
  options: {
    jobs?: number;
    spawnArgs: string[];
    onResult?: (result: WorkerResult, done: number, total: number) => void;
  },
): Promise<WorkerResult[]> {
  const jobs = Math.max(1, Math.min(options.jobs ?? os.availableParallelism(), plan.runs.length));
  // Each worker gets its share of the cores for the native kernels' threads: more threads than
  // cores make their spin-waits fight each other.
  const threadsPerJob = Math.max(1, Math.floor(os.availableParallelism() / jobs));
  const results: WorkerResult[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plan.runs.length) {
      const run = plan.runs[next++]!;
      const result = existsSync(path.join(run.dir, SUMMARY_FILE))
        ? { run, ok: true, skipped: true, seconds: 0, message: 'already finished' }
        : await runWorker(run, options.spawnArgs, threadsPerJob);
      results.push(result);
      options.onResult?.(result, ++done, plan.runs.length);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

function runWorker(run: PlannedRun, spawnArgs: string[], threads: number): Promise<WorkerResult> {
  mkdirSync(run.dir, { recursive: true });
  const configFile = path.join(run.dir, 'run-config.json');
  writeFileAtomic(configFile, JSON.stringify(run.config, null, 2) + '\n');
  const [command, ...args] = spawnArgs;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(
      command!,
      [...args, 'train', '--run-config', configFile, '--out', run.dir, '--resume', '--quiet'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { WEIGHT_PREDICTION_THREADS: String(threads), ...process.env },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      const ok = code === 0;
      const lastLine = stderr.trim().split('\n').at(-1) ?? '';
      resolve({
        run,
        ok,
        skipped: false,
        seconds,
        message: ok ? 'finished' : `failed (${signal ?? `exit ${code}`}): ${lastLine}`,
      });
    });
  });
}
