import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import { ensureWritableDir, writeFileAtomic } from '../files.js';
import { DIVERGED_FILE, SUMMARY_FILE } from '../training/log-format.js';
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
    const previous = readSweepFile(file);
    if (JSON.stringify(previous.runs) !== JSON.stringify(planned)) {
      throw new UserInputError(
        `${plan.out} holds a different comparison (other settings or seeds) than the one asked for: resume it with the same flags, or choose another --out`,
      );
    }
    return;
  }
  ensureWritableDir(plan.out, '--out');
  writeFileAtomic(file, JSON.stringify({ command, runs: planned }, null, 2) + '\n');
}

/** A comparison's sweep.json, checked enough to compare its runs with a plan. */
function readSweepFile(file: string): { command?: string; runs: RunConfig[] } {
  const fix = `delete it and rerun compare with the same flags (finished runs are kept and skipped), or choose another --out`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserInputError(`${file} is not readable JSON (${reason}): ${fix}`);
  }
  const runs = (parsed as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs)) {
    throw new UserInputError(
      `${file} has no "runs" list (not a sweep.json written by compare): ${fix}`,
    );
  }
  return parsed as { command?: string; runs: RunConfig[] };
}

/**
 * How one planned run ended in this sweep: `finished`; `done before` (summary.json already there);
 * `failed`; `diverged` (its metrics went non-finite, now or in an earlier sweep: diverged.json);
 * `not run` (another seed of its configuration diverged); `interrupted` (the sweep was stopped).
 */
export type WorkerStatus =
  'finished' | 'done before' | 'failed' | 'diverged' | 'not run' | 'interrupted';

export interface WorkerResult {
  run: PlannedRun;
  status: WorkerStatus;
  /** finished or done before. */
  ok: boolean;
  /** No worker ran (done before, diverged earlier, not run). */
  skipped: boolean;
  seconds: number;
  message: string;
}

/**
 * Names compare's pid for its workers, which exit once their parent is another process: compare is
 * gone, even when killed with SIGKILL (which it cannot forward). A worker reads it rather than its
 * ppid at start-up, when it may already have been re-parented.
 */
export const PARENT_PID_ENV = 'WEIGHT_PREDICTION_PARENT_PID';

/** Exit status of `train` when the run diverged (see cli/main.ts). */
export const DIVERGED_EXIT_CODE = 3;

/**
 * Runs every planned run in its own worker process (one TF.js per process), `jobs` at a time.
 * Finished runs (with summary.json) are skipped; unfinished ones resume from their checkpoint.
 * Once a run diverges, the runs of its configuration not yet started are not run: more seeds of a
 * configuration whose metrics went non-finite cost time and add nothing to the comparison.
 * `spawnArgs` is how to start the CLI's `train` command (node, its flags and the script).
 * When `abort` fires, no further run starts and the running workers get the signal named by its
 * reason (default SIGTERM); the promise settles once every worker has exited.
 */
export async function executeSweep(
  plan: SweepPlan,
  options: {
    jobs?: number;
    spawnArgs: string[];
    onResult?: (result: WorkerResult, done: number, total: number) => void;
    abort?: AbortSignal;
  },
): Promise<WorkerResult[]> {
  const jobs = Math.max(1, Math.min(options.jobs ?? os.availableParallelism(), plan.runs.length));
  // Each worker gets its share of the cores for the native kernels' threads: more threads than
  // cores make their spin-waits fight each other.
  const threadsPerJob = Math.max(1, Math.floor(os.availableParallelism() / jobs));
  const results: WorkerResult[] = [];
  const diverged = new Map<string, number>(); // label → the seed that diverged
  const running = new Set<ChildProcess>();
  const stopSignal = (): NodeJS.Signals =>
    typeof options.abort?.reason === 'string'
      ? (options.abort.reason as NodeJS.Signals)
      : 'SIGTERM';
  options.abort?.addEventListener('abort', () => {
    for (const child of running) child.kill(stopSignal());
  });
  let next = 0;
  let done = 0;
  const skip = (run: PlannedRun, status: WorkerStatus, message: string): WorkerResult => ({
    run,
    status,
    ok: status === 'done before',
    skipped: true,
    seconds: 0,
    message,
  });
  const worker = async () => {
    while (next < plan.runs.length && !options.abort?.aborted) {
      const run = plan.runs[next++]!;
      const { label } = run.config;
      let result: WorkerResult;
      if (existsSync(path.join(run.dir, SUMMARY_FILE))) {
        result = skip(run, 'done before', 'already finished');
      } else if (existsSync(path.join(run.dir, DIVERGED_FILE))) {
        result = skip(run, 'diverged', `diverged in an earlier sweep (${DIVERGED_FILE})`);
      } else if (diverged.has(label)) {
        result = skip(
          run,
          'not run',
          `not run: ${label} diverged with seed ${diverged.get(label)}`,
        );
      } else {
        result = await runWorker(run, options.spawnArgs, threadsPerJob, running);
        if (result.status === 'failed' && options.abort?.aborted) {
          result = { ...result, status: 'interrupted', message: `interrupted (${stopSignal()})` };
        }
      }
      if (result.status === 'diverged' && !diverged.has(label)) {
        diverged.set(label, run.config.seed);
      }
      results.push(result);
      options.onResult?.(result, ++done, plan.runs.length);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

function runWorker(
  run: PlannedRun,
  spawnArgs: string[],
  threads: number,
  running: Set<ChildProcess>,
): Promise<WorkerResult> {
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
        env: {
          WEIGHT_PREDICTION_THREADS: String(threads),
          ...process.env,
          [PARENT_PID_ENV]: String(process.pid),
        },
      },
    );
    running.add(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      const seconds = (performance.now() - started) / 1000;
      const lastLine = stderr.trim().split('\n').at(-1) ?? '';
      const status: WorkerStatus =
        code === 0 ? 'finished' : code === DIVERGED_EXIT_CODE ? 'diverged' : 'failed';
      resolve({
        run,
        status,
        ok: status === 'finished',
        skipped: false,
        seconds,
        message:
          status === 'finished'
            ? 'finished'
            : `${status} (${signal ?? `exit ${code}`}): ${lastLine.replace(/^weight-prediction: /, '')}`,
      });
    });
  });
}
