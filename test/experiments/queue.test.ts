import { Job, Queue } from 'bullmq';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRun } from '../../src/experiments/config.js';
import { connectRedis, runJobData, runJobId } from '../../src/experiments/queue.js';
import type { ReportJson } from '../../src/report/write.js';
import type { RunSummary } from '../../src/training/log-format.js';
import { freePort, startRedis } from './redis-server.js';

// One thread per training everywhere, so a run trains the same here, in a local compare's worker
// and on a queue worker (the native kernels' results may depend on their thread count).
const env = { ...process.env, WEIGHT_PREDICTION_THREADS: '1' };
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function cli(...args: string[]) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    timeout: 400_000,
    env,
  });
  return {
    code: result.status,
    stderr: result.stderr,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A CLI process in the background, its stderr collected; `waitFor` a line matching a pattern. */
function background(...args: string[]) {
  const child = spawn(process.execPath, [...CLI, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    exited,
    get stderr() {
      return stderr;
    },
    async waitFor(pattern: RegExp, timeoutMs = 300_000) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(stderr)) {
        if (Date.now() > until)
          throw new Error(`timed out waiting for ${pattern}; stderr:\n${stderr}`);
        if (child.exitCode !== null)
          throw new Error(`exited before ${pattern}; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const children: ChildProcess[] = [];
function track<T extends { child: ChildProcess }>(p: T): T {
  children.push(p.child);
  return p;
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-queue-'));
let redis: Awaited<ReturnType<typeof startRedis>>;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Every run folder's summary, by `<label-folder>/<seed-folder>`. */
function summaries(out: string): Map<string, RunSummary> {
  const map = new Map<string, RunSummary>();
  for (const label of readdirSync(path.join(out, 'runs'))) {
    for (const seed of readdirSync(path.join(out, 'runs', label))) {
      const file = path.join(out, 'runs', label, seed, 'summary.json');
      map.set(`${label}/${seed}`, JSON.parse(readFileSync(file, 'utf8')) as RunSummary);
    }
  }
  return map;
}

describe('Redis unreachable', () => {
  it('compare and worker say so in one line naming the URL, exit non-zero within seconds, write nothing', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const out = path.join(root, 'unreachable');
    for (const run of [
      cli('compare', '--task', 'mnist-tiny', '--queue', url, '--out', out),
      cli('worker', '--queue', url),
    ]) {
      expect(run.code).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `Cannot use Redis at ${url} \\(connect ECONNREFUSED .*\\): start it there .*--queue redis://HOST:PORT`,
        ),
      );
      // Process start (tsx, TF.js) is most of it on a loaded machine; no retry loop.
      expect(run.seconds).toBeLessThan(30);
    }
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});

describe('a worker', () => {
  it('fails malformed, foreign-version and damaged jobs with a message and keeps serving', async () => {
    const queueName = 'refusals';
    const connection = await connectRedis(redis.url);
    const queue = new Queue(queueName, { connection });
    try {
      const config = resolveRun(
        { task: 'mnist-tiny', epochs: 1 },
        { optimizer: 'adamw', predictionSteps: 0 },
        1,
      );
      const good = runJobData(config);
      const jobs = {
        malformed: await queue.add('train', { hello: 'world' }),
        foreign: await queue.add('train', { ...good, packageVersion: '0.0.0-other' }),
        damaged: await queue.add('train', { ...good, config: { ...config, seed: 2 } }),
        good: await queue.add('train', good, { jobId: runJobId(good) }),
      };
      const worker = track(
        background(
          'worker',
          '--queue',
          redis.url,
          '--queue-name',
          queueName,
          '--lock-seconds',
          '5',
        ),
      );
      await worker.waitFor(new RegExp(`job ${jobs.good.id} finished`));
      const state = async (job: Job) => {
        const fresh = (await Job.fromId(queue, job.id!))!;
        return [await fresh.getState(), fresh.failedReason ?? ''];
      };
      expect(await state(jobs.malformed)).toEqual([
        'failed',
        expect.stringMatching(/is not a weight-prediction run .*refused/),
      ]);
      expect(await state(jobs.foreign)).toEqual([
        'failed',
        expect.stringMatching(
          /planned by weight-prediction 0\.0\.0-other but this worker runs 0\.1\.0: refused/,
        ),
      ]);
      expect(await state(jobs.damaged)).toEqual([
        'failed',
        expect.stringMatching(/does not match its hash/),
      ]);
      expect((await state(jobs.good))[0]).toBe('completed');
      const result = (await Job.fromId(queue, jobs.good.id!))!.returnvalue as {
        files: Record<string, string>;
      };
      const summary = JSON.parse(result.files['summary.json']!) as RunSummary;
      expect(summary.label).toBe('adamw');
      expect(result.files['metrics.jsonl']!.trim().split('\n').length).toBeGreaterThan(1);
      expect(worker.child.exitCode).toBeNull();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 300_000);
});

describe('the proof sweep, locally and through Redis with a worker killed mid-run', () => {
  const sweep = [
    '--task',
    'mnist-tiny',
    '--lr',
    '1e-3,3e-3',
    '--prediction-steps',
    '0,1',
    '--seeds',
    '2',
  ];

  it('gives identical per-run final metrics and an equivalent report', async () => {
    const local = path.join(root, 'local');
    const run = cli('compare', ...sweep, '--jobs', '2', '--out', local);
    expect(run.stderr).toContain('report:');
    expect(run.code).toBe(0);

    const queueName = 'proof';
    const workerArgs = [
      'worker',
      '--queue',
      redis.url,
      '--queue-name',
      queueName,
      '--lock-seconds',
      '2',
    ];
    const doomed = track(background(...workerArgs));
    await doomed.waitFor(/serving queue/);
    const distributed = path.join(root, 'distributed');
    const coordinator = track(
      background(
        'compare',
        ...sweep,
        '--queue',
        redis.url,
        '--queue-name',
        queueName,
        '--out',
        distributed,
      ),
    );
    await doomed.waitFor(/job \S+ started/);
    const survivor = track(background(...workerArgs));
    // Mid-run: a mnist-tiny run takes seconds, the job has just started.
    doomed.child.kill('SIGKILL');
    const killedJob = /job (\S+) started/.exec(doomed.stderr)![1]!;
    expect(doomed.stderr).not.toContain(`job ${killedJob} finished`);
    expect(await coordinator.exited).toBe(0);
    // The survivor took the killed worker's job up again once its lock expired.
    expect(survivor.stderr).toContain(`job ${killedJob} started`);
    expect(survivor.stderr).toContain(`job ${killedJob} finished`);
    expect(coordinator.stderr).toMatch(/\[8\/8\]/);

    const a = summaries(local);
    const b = summaries(distributed);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect(a.size).toBe(8);
    for (const [key, summary] of a) {
      const other = b.get(key)!;
      expect({ key, final: other.final, best: other.best, steps: other.steps }).toEqual({
        key,
        final: summary.final,
        best: summary.best,
        steps: summary.steps,
      });
      expect(other.final.validMetric).toBeDefined();
    }
    // The same layout: run-config.json, metrics.jsonl and summary.json in every run folder.
    for (const key of b.keys()) {
      for (const file of ['run-config.json', 'metrics.jsonl', 'summary.json']) {
        expect(existsSync(path.join(distributed, 'runs', key, file))).toBe(true);
      }
    }
    // The same report numbers (all but the timings).
    const report = (out: string) =>
      JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as ReportJson;
    const numbers = (r: ReportJson) =>
      r.analysis.tasks.map((t) => ({
        baseline: t.baseline,
        configs: t.configs.map((c) => ({
          label: c.label,
          final: c.finalMetric,
          best: c.bestMetric,
          vs: c.vsBaseline?.finalMetric ?? null,
        })),
      }));
    expect(numbers(report(distributed))).toEqual(numbers(report(local)));
    const md = readFileSync(path.join(distributed, 'report.md'), 'utf8');
    expect(md).toMatch(/\| adamw s=1 lr=0\.003 \| 2 \|/);

    // An interrupted coordinator resumes: with every job done, nothing trains again.
    const startedBefore = (survivor.stderr.match(/started/g) ?? []).length;
    rmSync(path.join(distributed, 'runs', 'adamw-lr-0.001', 'seed-1', 'summary.json'));
    const resumed = cli(
      'compare',
      ...sweep,
      '--queue',
      redis.url,
      '--queue-name',
      queueName,
      '--out',
      distributed,
      '--resume',
    );
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/adamw lr=0\.001, seed 1: finished on /);
    expect(resumed.stderr.match(/already finished/g)).toHaveLength(7);
    expect((survivor.stderr.match(/started/g) ?? []).length).toBe(startedBefore);
    expect(summaries(distributed).get('adamw-lr-0.001/seed-1')!.final).toEqual(
      a.get('adamw-lr-0.001/seed-1')!.final,
    );
    survivor.child.kill('SIGTERM');
    await survivor.exited;
  }, 900_000);
});

describe('a coordinator killed mid-sweep', () => {
  it('resumes with --resume, collecting what the workers finished meanwhile, training nothing twice', async () => {
    const queueName = 'coordinator';
    const worker = track(
      background('worker', '--queue', redis.url, '--queue-name', queueName, '--lock-seconds', '5'),
    );
    await worker.waitFor(/serving queue/);
    const out = path.join(root, 'interrupted');
    const args = [
      'compare',
      '--task',
      'mnist-tiny',
      '--epochs',
      '1',
      '--seeds',
      '2',
      '--queue',
      redis.url,
      '--queue-name',
      queueName,
      '--out',
      out,
    ];
    const first = track(background(...args));
    await first.waitFor(/\[1\/4\]/);
    first.child.kill('SIGKILL');
    await first.exited;
    // The jobs live in Redis: the worker goes on and finishes all four without the coordinator.
    const until = Date.now() + 300_000;
    while ((worker.stderr.match(/ finished/g) ?? []).length < 4) {
      if (Date.now() > until)
        throw new Error(`the worker did not finish 4 jobs:\n${worker.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const resumed = cli(...args, '--resume');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('report:');
    expect(resumed.stderr.match(/already finished|finished on /g)).toHaveLength(4);
    expect((worker.stderr.match(/started/g) ?? []).length).toBe(4);
    expect(summaries(out).size).toBe(4);
    worker.child.kill('SIGTERM');
    await worker.exited;
  }, 600_000);
});
