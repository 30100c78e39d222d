import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunConfig } from '../experiments/config.js';
import {
  connectRedis,
  DEFAULT_QUEUE_NAME,
  packageVersion,
  RETURNED_FILES,
  type RunJobData,
  type RunJobResult,
} from '../experiments/queue.js';
import { runOne } from '../experiments/run.js';
import { selectBackend } from '../kernels/backend.js';
import { writeFileAtomic } from '../files.js';
import { configHash } from '../training/checkpoint.js';

const say = (line: string) => process.stderr.write(line + '\n');

/**
 * Checks a job before anything trains: its shape, the package version that planned it and its
 * configuration's hash. A job that fails here is failed for good (no retry) with a message saying
 * why; the worker goes on serving.
 */
export function checkRunJob(job: Pick<Job, 'id' | 'data'>, version: string): RunJobData {
  const data = job.data as Partial<RunJobData> | null;
  if (
    data === null ||
    typeof data !== 'object' ||
    data.format !== 'weight-prediction-run' ||
    typeof data.packageVersion !== 'string' ||
    typeof data.configHash !== 'string' ||
    data.config === null ||
    typeof data.config !== 'object'
  ) {
    throw new UnrecoverableError(
      `job ${job.id} is not a weight-prediction run (expected format, packageVersion, configHash and config): refused; enqueue runs with \`weight-prediction compare --queue\``,
    );
  }
  if (data.packageVersion !== version) {
    throw new UnrecoverableError(
      `job ${job.id} was planned by weight-prediction ${data.packageVersion} but this worker runs ${version}: refused rather than train it differently; run workers of version ${data.packageVersion}, then rerun the coordinator with --resume`,
    );
  }
  if (configHash(data.config) !== data.configHash) {
    throw new UnrecoverableError(
      `job ${job.id}: its configuration does not match its hash (damaged or edited in Redis): refused; rerun the coordinator with --resume to enqueue it again`,
    );
  }
  return data as RunJobData;
}

/**
 * Trains one job in a child process (one TF.js per process, and the worker's event loop stays free
 * to renew the job's lock), in a temporary folder, and returns the run's files. The child exits
 * when this worker dies (its IPC channel closes), so a killed worker leaves no orphan training.
 */
async function trainJob(data: RunJobData, threads: number): Promise<RunJobResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wp-job-'));
  const started = performance.now();
  try {
    const configFile = path.join(dir, 'run-config.json');
    writeFileAtomic(configFile, JSON.stringify(data.config) + '\n');
    const [command, ...args] = [process.execPath, ...process.execArgv, process.argv[1]!];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command!, [...args, 'run-job', configFile, path.join(dir, 'run')], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env: { WEIGHT_PREDICTION_THREADS: String(threads), ...process.env },
      });
      let text = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        text = (text + chunk.toString()).slice(-4000);
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else {
          const last = text.trim().split('\n').at(-1) ?? '';
          reject(new Error(`training failed (${signal ?? `exit ${code}`}): ${last}`));
        }
      });
    });
    const files: Record<string, string> = {};
    for (const name of RETURNED_FILES) {
      files[name] = readFileSync(path.join(dir, 'run', name), 'utf8');
    }
    return {
      files,
      worker: `${os.hostname()} ${process.pid}`,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function workerCommand(flags: {
  queue: string;
  jobs?: number;
  queueName?: string;
  lockSeconds?: number;
}) {
  const jobs = flags.jobs ?? 1;
  const name = flags.queueName ?? DEFAULT_QUEUE_NAME;
  const connection = await connectRedis(flags.queue);
  const version = packageVersion();
  const threads = Math.max(1, Math.floor(os.availableParallelism() / jobs));
  const lockMs = (flags.lockSeconds ?? 30) * 1000;
  const worker = new Worker<RunJobData, RunJobResult>(
    name,
    async (job) => {
      const data = checkRunJob(job, version);
      say(
        `worker ${process.pid}: job ${job.id} started: ${data.config.label}, seed ${data.config.seed}`,
      );
      return trainJob(data, threads);
    },
    {
      connection,
      concurrency: jobs,
      // A killed worker's job is taken up by another once its lock expires (BullMQ's stalled-job
      // check); it then trains from the start (see the README for why not from a checkpoint).
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 3,
    },
  );
  worker.on('completed', (job) => say(`worker ${process.pid}: job ${job.id} finished`));
  worker.on('failed', (job, error) =>
    say(`worker ${process.pid}: job ${job?.id ?? '?'} failed: ${error.message}`),
  );
  worker.on('error', (error) => say(`worker ${process.pid}: ${error.message}`));
  say(
    `worker ${process.pid}: serving queue ${name} on ${flags.queue}, ${jobs} job(s) at a time (weight-prediction ${version})`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      say(`worker ${process.pid}: stopping after the jobs in progress`);
      void worker.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  connection.disconnect();
}

/** The child of `trainJob`: one run, in a folder of its own, quietly. */
async function runJobCommand(configFile: string, outDir: string) {
  // Spawned with an IPC channel: it closes when the worker dies, and then so does this run.
  const orphaned = () => process.exit(70);
  if (process.send !== undefined) process.on('disconnect', orphaned);
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as RunConfig;
  await selectBackend(config.backend);
  await runOne(config, { outDir, progress: 'none' });
  process.off('disconnect', orphaned);
  process.disconnect?.();
}

function integerAtLeast(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return n;
  };
}

/** Adds `worker` (and the hidden `run-job` its children run) to the CLI. */
export function addWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description(
      'take runs from a `compare --queue` sweep on Redis, train them and send back their logs',
    )
    .requiredOption('--queue <url>', 'Redis server of the sweep, redis://HOST:PORT')
    .option('--jobs <n>', 'runs trained at a time on this machine (default 1)', integerAtLeast(1))
    .option('--queue-name <name>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .option(
      '--lock-seconds <n>',
      "seconds without a heartbeat before a dead worker's job goes to another (default 30)",
      integerAtLeast(1),
    )
    .action(workerCommand);
  program
    .command('run-job', { hidden: true })
    .argument('<run-config>')
    .argument('<out>')
    .action(runJobCommand);
}
