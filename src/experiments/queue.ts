import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { configHash } from '../training/checkpoint.js';
import { METRICS_FILE, SUMMARY_FILE } from '../training/log-format.js';
import type { PlannedRun, SweepPlan, WorkerResult } from './compare.js';
import type { RunConfig } from './config.js';

/**
 * Sweeps on BullMQ over Redis: the coordinator (`compare --queue`) adds one job per run and writes
 * what comes back into the same folder layout as a local `compare`; workers (`worker --queue`) on
 * any machine take jobs, train them and return the run's files through Redis. No shared
 * filesystem: a job carries its resolved configuration, its result carries the run's logs.
 */

export const DEFAULT_QUEUE_NAME = 'weight-prediction';
export const JOB_NAME = 'train';
/** The files of a run folder that travel back (checkpoints stay on the worker). */
export const RETURNED_FILES = [METRICS_FILE, SUMMARY_FILE] as const;

/** What a job carries. */
export interface RunJobData {
  format: 'weight-prediction-run';
  /** The package version that planned the job; a worker of another version refuses it. */
  packageVersion: string;
  /** `configHash(config)`: a damaged or foreign configuration does not match it. */
  configHash: string;
  config: RunConfig;
}

/** What a finished job returns. */
export interface RunJobResult {
  files: Record<string, string>;
  /** Who trained it (`host pid`), for the coordinator's log. */
  worker: string;
  seconds: number;
}

export function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** `redis://HOST:PORT` (port default 6379), checked before anything connects. */
export function parseRedisUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserInputError(
      `--queue ${url}: expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379`,
    );
  }
  if (parsed.protocol !== 'redis:' || parsed.hostname === '') {
    throw new UserInputError(
      `--queue ${url}: expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379`,
    );
  }
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
}

/**
 * A Redis connection for BullMQ, after one quick check that the server answers: an unreachable or
 * refusing server is one UserInputError naming the URL and the fix, within `timeoutMs`, instead of
 * BullMQ's silent reconnect loop. The returned client reconnects on its own later on.
 */
export async function connectRedis(url: string, timeoutMs = 3000): Promise<Redis> {
  const { host, port } = parseRedisUrl(url);
  const probe = new Redis({
    host,
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket's own error (ECONNREFUSED, ...) says more than connect()'s "Connection is closed".
  let socketError: Error | undefined;
  probe.on('error', (error: Error) => (socketError ??= error));
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    probe.disconnect();
    const reason = (socketError ?? (error as Error)).message ?? String(error);
    throw new UserInputError(
      `Cannot use Redis at ${url} (${reason}): start it there (e.g. redis-server --port ${port}) or pass the right --queue redis://HOST:PORT`,
    );
  }
  probe.disconnect();
  const client = new Redis({ host, port, maxRetriesPerRequest: null });
  client.on('error', () => {}); // ioredis reconnects; BullMQ reports what fails
  return client;
}

/** The id of a run's job: the same run planned again (e.g. on --resume) is the same job. */
export function runJobId(data: RunJobData): string {
  return `run-${configHash({ version: data.packageVersion, hash: data.configHash })}`;
}

export function runJobData(config: RunConfig): RunJobData {
  return {
    format: 'weight-prediction-run',
    packageVersion: packageVersion(),
    configHash: configHash(config),
    config,
  };
}

/** Writes a finished job's files into its run folder (each atomically, summary.json last). */
function writeReturned(run: PlannedRun, result: RunJobResult): void {
  for (const name of RETURNED_FILES) {
    if (typeof result.files?.[name] !== 'string') {
      throw new Error(`the job's result lacks ${name}`);
    }
  }
  mkdirSync(run.dir, { recursive: true });
  writeFileAtomic(path.join(run.dir, METRICS_FILE), result.files[METRICS_FILE]!);
  writeFileAtomic(path.join(run.dir, SUMMARY_FILE), result.files[SUMMARY_FILE]!);
}

/** An open queue on a checked connection; `close` when done. */
export interface RunQueue {
  url: string;
  queue: Queue;
  close(): Promise<void>;
}

export async function openRunQueue(url: string, name = DEFAULT_QUEUE_NAME): Promise<RunQueue> {
  const connection = await connectRedis(url);
  const queue = new Queue(name, { connection });
  return {
    url,
    queue,
    close: async () => {
      await queue.close();
      connection.disconnect();
    },
  };
}

/**
 * Runs a plan through the queue: one job per run not finished in its folder yet (a job already in
 * Redis, e.g. from an interrupted coordinator, is reused; a failed one is retried), then waits
 * for each and writes its files into the run's folder. Same results and callbacks as
 * `executeSweep`.
 */
export async function executeOnQueue(
  plan: SweepPlan,
  runQueue: RunQueue,
  options: {
    pollMs?: number;
    onResult?: (result: WorkerResult, done: number, total: number) => void;
  } = {},
): Promise<WorkerResult[]> {
  const { queue } = runQueue;
  const results: WorkerResult[] = [];
  let done = 0;
  const report = (result: WorkerResult) => {
    results.push(result);
    options.onResult?.(result, ++done, plan.runs.length);
  };
  const fail = (run: PlannedRun, message: string) =>
    report({ run, status: 'failed', ok: false, skipped: false, seconds: 0, message });
  const pending = new Map<string, PlannedRun>();
  for (const run of plan.runs) {
    if (existsSync(path.join(run.dir, SUMMARY_FILE))) {
      report({
        run,
        status: 'done before',
        ok: true,
        skipped: true,
        seconds: 0,
        message: 'already finished',
      });
      continue;
    }
    mkdirSync(run.dir, { recursive: true });
    writeFileAtomic(
      path.join(run.dir, 'run-config.json'),
      JSON.stringify(run.config, null, 2) + '\n',
    );
    const data = runJobData(run.config);
    const jobId = runJobId(data);
    const existing = await Job.fromId(queue, jobId);
    if (existing === undefined) {
      await queue.add(JOB_NAME, data, { jobId, removeOnComplete: false, removeOnFail: false });
    } else if ((await existing.getState()) === 'failed') {
      await existing.retry('failed');
    }
    pending.set(jobId, run);
  }
  const pollMs = options.pollMs ?? 500;
  while (pending.size > 0) {
    for (const [jobId, run] of [...pending]) {
      const job = await Job.fromId<RunJobData, RunJobResult>(queue, jobId);
      const state = job === undefined ? 'missing' : await job.getState();
      if (state === 'completed') {
        pending.delete(jobId);
        try {
          writeReturned(run, job!.returnvalue);
          report({
            run,
            status: 'finished',
            ok: true,
            skipped: false,
            seconds: job!.returnvalue.seconds,
            message: `finished on ${job!.returnvalue.worker}`,
          });
        } catch (error) {
          fail(run, `failed: ${(error as Error).message}`);
        }
      } else if (state === 'failed' || state === 'missing') {
        pending.delete(jobId);
        const reason = state === 'missing' ? 'its job was removed from Redis' : job!.failedReason;
        fail(run, `failed: ${reason}`);
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
  return results;
}
