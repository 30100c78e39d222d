import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserInputError } from '../errors.js';
import {
  BACKEND_NAMES,
  findPreset,
  mergeOverrides,
  resolveRun,
  validateOverrides,
  type Overrides,
  type RunConfig,
} from '../experiments/config.js';
import {
  executeSweep,
  labelSlug,
  planSweep,
  PARENT_PID_ENV,
  prepareSweepFolder,
  SWEEP_FILE,
  type SweepPlan,
  type WorkerResult,
} from '../experiments/compare.js';
import { DEFAULT_QUEUE_NAME, executeOnQueue, openRunQueue } from '../experiments/queue.js';
import { readTuning, runTunedComparison } from '../experiments/tune.js';
import { addWorkerCommands } from './worker.js';
import { PRESETS, SCHEDULE_NAMES } from '../experiments/presets.js';
import { runOne } from '../experiments/run.js';
import { muteTfjsNodeBanner } from './quiet-tfjs.js';
import { describeBackend, selectBackend } from '../kernels/backend.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/index.js';
import { lockFolder } from '../lock.js';
import { readRuns, writeReport, type RunData } from '../report/index.js';
import type { RunSummary } from '../training/log-format.js';

/** Where messages for people go: stdout stays free for results. */
const say = (line: string) => process.stderr.write(line + '\n');

function integerAtLeast(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return n;
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError('expected a number > 0, e.g. 1e-3');
  }
  return n;
}

/** A comma list of numbers (`1e-3,3e-3`); one value stays a number. */
function numberList(positive: boolean) {
  const expected = positive ? 'numbers > 0, e.g. 1e-3,3e-3' : 'numbers >= 0, e.g. 0,1e-2';
  return (value: string): number | number[] => {
    const items = value.split(',').map((s) => s.trim());
    const bad = items.filter((s) => {
      const n = Number(s);
      return s === '' || !Number.isFinite(n) || n < 0 || (positive && n === 0);
    });
    if (bad.length > 0) {
      throw new InvalidArgumentError(
        `${bad.map((b) => (b === '' ? 'an empty item' : `"${b}"`)).join(', ')}: expected a comma list of ${expected}`,
      );
    }
    const list = items.map(Number);
    if (new Set(list).size !== list.length) {
      throw new InvalidArgumentError(`a value is listed twice: expected distinct ${expected}`);
    }
    return list.length === 1 ? list[0]! : list;
  };
}

function stepsList(value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => !/^\d+$/.test(s))) {
    throw new InvalidArgumentError('expected a comma list of integers >= 0, e.g. 0,1,2');
  }
  return items.map(Number);
}

function optimizerList(value: string): OptimizerName[] {
  const items = value.split(',').map((s) => s.trim().toLowerCase());
  for (const item of items) {
    if (!OPTIMIZER_NAMES.includes(item as OptimizerName)) {
      throw new InvalidArgumentError(`"${item}" is not one of ${OPTIMIZER_NAMES.join(', ')}`);
    }
  }
  return items as OptimizerName[];
}

function taskName(value: string): string {
  if (!PRESETS.some((p) => p.name === value)) {
    throw new InvalidArgumentError(
      `unknown task; choose one of ${PRESETS.map((p) => p.name).join(', ')}`,
    );
  }
  return value;
}

/** `train`'s single --prediction-steps value, as the one-item list the settings hold. */
function oneStepCount(value: string): number[] {
  if (!/^\d+$/.test(value.trim())) {
    throw new InvalidArgumentError(
      'expected an integer >= 0 (train runs one value; compare sweeps a list)',
    );
  }
  return [Number(value)];
}

/** `train`'s single --optimizer, as the one-item list the settings hold. */
function oneOptimizer(value: string): OptimizerName[] {
  if (value.includes(',')) {
    throw new InvalidArgumentError('train runs one optimizer (compare sweeps a list)');
  }
  return optimizerList(value);
}

/**
 * The flags `compare` and `train` share, which override the task preset. `sweep`: the command
 * takes lists of prediction steps and optimizers (compare) rather than one of each (train).
 */
function addRunFlags(command: Command, sweep: boolean): Command {
  const defaultOut = sweep ? 'runs/<task>' : 'runs/train/<task>/<label>/seed-<n>';
  const resume = sweep
    ? 'continue an interrupted comparison in --out'
    : 'continue an interrupted run in --out (a finished one cannot take more epochs: that is a new run)';
  return command
    .option('--task <name>', 'task preset (see `weight-prediction tasks`)', taskName)
    .option('--epochs <n>', 'epochs', integerAtLeast(1))
    .option('--batch-size <n>', 'batch size (token streams for language models)', integerAtLeast(1))
    .option('--lr <rates>', 'peak learning rate; a comma list sweeps it', numberList(true))
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(SCHEDULE_NAMES))
    .option('--weight-decay <lambdas>', 'weight decay; a comma list sweeps it', numberList(false))
    .option('--clip <norm>', 'clip gradients to this global L2 norm', positiveNumber)
    .option('--bptt <n>', 'BPTT window of language models', integerAtLeast(1))
    .option(
      sweep ? '--prediction-steps <list>' : '--prediction-steps <s>',
      sweep
        ? 'weight prediction steps s, a comma list sweeps it (0 = plain)'
        : 'weight prediction steps s (0 = plain)',
      sweep ? stepsList : oneStepCount,
    )
    .option(
      sweep ? '--optimizer <list>' : '--optimizer <name>',
      sweep
        ? `base optimizers, a comma list sweeps them: ${OPTIMIZER_NAMES.join(', ')}`
        : `base optimizer: ${OPTIMIZER_NAMES.join(', ')}`,
      sweep ? optimizerList : oneOptimizer,
    )
    .addOption(new Option('--backend <name>', 'TF.js backend').choices(BACKEND_NAMES))
    .option(
      '--data-dir <folder>',
      'folder of a dataset read from disk (Fashion-MNIST, CIFAR, text)',
    )
    .option('--config <file>', 'JSON file of settings (flags given as well win)')
    .option('--out <folder>', `output folder (default: ${defaultOut})`)
    .option('--resume', resume)
    .option('--log-every <n>', 'a step record every N updates', integerAtLeast(1))
    .option(
      '--checkpoint-every <n>',
      'a checkpoint every N updates (0: epoch ends only)',
      integerAtLeast(0),
    );
}

interface RunFlags {
  task?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number | number[];
  schedule?: string;
  weightDecay?: number | number[];
  clip?: number;
  bptt?: number;
  predictionSteps?: number[];
  optimizer?: OptimizerName[];
  backend?: string;
  dataDir?: string;
  config?: string;
  out?: string;
  resume?: boolean;
  logEvery?: number;
  checkpointEvery?: number;
}

function readConfigFile(file: string): Overrides {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UserInputError(
      `--config ${file}: cannot read the file (${reason}): pass a readable JSON file`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserInputError(`--config ${file}: not valid JSON (${(error as Error).message})`);
  }
  return validateOverrides(parsed, `--config ${file}`);
}

/** Settings from --config, then flags. */
function overridesFrom(flags: RunFlags, extra: Overrides = {}): Overrides {
  const fromFile = flags.config ? readConfigFile(flags.config) : {};
  const fromFlags: Overrides = {
    task: flags.task,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.lr,
    schedule: flags.schedule as Overrides['schedule'],
    weightDecay: flags.weightDecay,
    clipGlobalNorm: flags.clip,
    bptt: flags.bptt,
    predictionSteps: flags.predictionSteps,
    optimizer: flags.optimizer,
    backend: flags.backend as Overrides['backend'],
    dataDir: flags.dataDir,
    out: flags.out,
    logEvery: flags.logEvery,
    checkpointEvery: flags.checkpointEvery,
    ...extra,
  };
  return mergeOverrides(fromFile, fromFlags);
}

/**
 * A run configuration `compare` wrote for a worker (already resolved and validated when written);
 * checked here only for being one, since a person may pass or edit such a file.
 */
function readRunConfig(file: string): RunConfig {
  const fix = 'pass the run-config.json that compare wrote into a run folder';
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UserInputError(`--run-config ${file}: cannot read it as JSON (${reason}): ${fix}`);
  }
  const c = parsed as Partial<Record<keyof RunConfig, unknown>> | null;
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (
    !isObject(c) ||
    typeof c!.task !== 'string' ||
    typeof c!.label !== 'string' ||
    typeof c!.seed !== 'number' ||
    typeof c!.predictionSteps !== 'number' ||
    !isObject(c!.data) ||
    !isObject(c!.model) ||
    !isObject(c!.recipe)
  ) {
    throw new UserInputError(`--run-config ${file}: not a resolved run configuration: ${fix}`);
  }
  return parsed as RunConfig;
}

function commandLine(): string {
  return ['weight-prediction', ...process.argv.slice(2)].join(' ');
}

/**
 * A check that exits this process once its parent has gone (it is then re-parented, so its ppid
 * changes). Training runs synchronously between updates, starving timers, so the check runs after
 * every update as well as on a timer (for the waits in between).
 */
function orphanCheck(): () => void {
  const parent = Number(process.env[PARENT_PID_ENV]) || process.ppid;
  const check = () => {
    if (process.ppid !== parent) process.exit(EXIT_ORPHANED);
  };
  check();
  setInterval(check, 500).unref();
  return check;
}

/** Exit status of a compare worker that stopped because its compare was gone. */
const EXIT_ORPHANED = 4;

async function trainCommand(
  flags: RunFlags & { seed?: number; runConfig?: string; quiet?: boolean; overwrite?: boolean },
) {
  muteTfjsNodeBanner();
  if (flags.resume && flags.overwrite) {
    throw new UserInputError('--resume and --overwrite contradict each other: pass one');
  }
  let config: RunConfig;
  let configOut: string | undefined;
  if (flags.runConfig) {
    config = readRunConfig(flags.runConfig);
  } else {
    const overrides = overridesFrom(flags, { seed: flags.seed });
    configOut = overrides.out;
    const optimizers = overrides.optimizer ?? [
      findPreset(overrides.task ?? 'mnist-mlp').recipe.optimizer,
    ];
    const steps = overrides.predictionSteps ?? [0];
    if (optimizers.length !== 1 || steps.length !== 1) {
      throw new UserInputError(
        '`train` runs one configuration: give one --optimizer and one --prediction-steps value (use `compare` to sweep)',
      );
    }
    config = resolveRun(
      overrides,
      { optimizer: optimizers[0]!, predictionSteps: steps[0]! },
      overrides.seed ?? 1,
    );
  }
  // Not inside runs/<task>, compare's default: a report of that folder would find this run twice.
  const out =
    flags.out ??
    configOut ??
    path.join('runs', 'train', config.task, labelSlug(config.label), `seed-${config.seed}`);
  lockFolder(out, commandLine(), '--out');
  // A worker of `compare` stops when its compare is gone (even killed with SIGKILL, which cannot
  // be forwarded): its checkpoint is kept for `compare --resume`.
  const exitIfOrphaned = flags.runConfig ? orphanCheck() : undefined;
  await selectBackend(config.backend);
  if (!flags.quiet) say(`backend: ${describeBackend()}`);
  const { summary } = await runOne(config, {
    outDir: out,
    resume: flags.resume ?? false,
    overwrite: flags.overwrite ?? false,
    progress: flags.quiet ? 'none' : 'auto',
    command: commandLine(),
    backendDescription: describeBackend(),
    ...(exitIfOrphaned && { onStep: exitIfOrphaned }),
  });
  if (!flags.quiet) {
    const metric =
      summary.metric === 'accuracy'
        ? `test accuracy ${(summary.final.testMetric * 100).toFixed(2)}%`
        : `${summary.evaluatedOn ?? 'validation'} perplexity ${summary.final.testMetric.toFixed(2)}${bigramNote(summary)}`;
    say(
      `${config.label}, seed ${config.seed}: ${metric} after ${summary.epochs} epoch${summary.epochs === 1 ? '' : 's'} (${summary.wallSeconds.toFixed(1)} s); logs in ${out}`,
    );
  }
}

/** " (Kneser-Ney bigram 225.10)": the count baseline on the split the run was evaluated on. */
function bigramNote(summary: RunSummary): string {
  const p = summary.corpus?.kneserNeyBigram.perplexity[summary.evaluatedOn ?? 'validation'];
  return p === undefined ? '' : ` (Kneser-Ney bigram ${p.toFixed(2)})`;
}

async function compareCommand(
  flags: RunFlags & {
    seeds?: number;
    jobs?: number;
    baseline?: string;
    tune?: boolean;
    tuneSeeds?: number;
    queue?: string;
    queueName?: string;
  },
) {
  const overrides = overridesFrom(flags, { seeds: flags.seeds });
  const task = overrides.task ?? 'mnist-mlp';
  const out = overrides.out ?? path.join('runs', task);
  if (flags.tuneSeeds !== undefined && !flags.tune) {
    throw new UserInputError('--tune-seeds sets the seeds of --tune: add --tune, or drop it');
  }
  if (flags.queue !== undefined && flags.jobs !== undefined) {
    throw new UserInputError(
      '--jobs is how many runs train here; with --queue the workers train them: give --jobs to `weight-prediction worker` instead',
    );
  }
  const spawnArgs = [process.execPath, ...process.execArgv, process.argv[1]!];
  const onResult = (r: WorkerResult, done: number, total: number) =>
    say(
      `[${done}/${total}] ${r.run.config.label}, seed ${r.run.config.seed}: ${r.message}${r.skipped ? '' : ` (${r.seconds.toFixed(0)} s)`}`,
    );
  // With --queue, Redis is checked before anything is written: an unreachable server leaves no folder.
  const runQueue = flags.queue ? await openRunQueue(flags.queue, flags.queueName) : undefined;
  lockFolder(out, commandLine(), '--out');
  // Local runs: SIGINT / SIGTERM go to the workers too, and compare exits once they have: none is
  // left running (and writing) behind it. Their checkpoints are kept for --resume. (Queued runs
  // belong to the workers; a stopped coordinator collects them with --resume.)
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!abort.signal.aborted) {
      say(`compare: ${signal}: stopping the running workers (their checkpoints are kept)`);
    }
    abort.abort(signal);
  };
  if (!runQueue) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const execute = (plan: SweepPlan) =>
    runQueue
      ? executeOnQueue(plan, runQueue, { onResult })
      : executeSweep(plan, {
          ...(flags.jobs !== undefined && { jobs: flags.jobs }),
          spawnArgs,
          abort: abort.signal,
          onResult,
        });
  let results: WorkerResult[];
  try {
    results = await runSweeps(overrides, out, flags, execute);
  } finally {
    await runQueue?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (abort.signal.aborted) {
    const signal = abort.signal.reason as NodeJS.Signals;
    say(`compare: stopped by ${signal}; finish the comparison with the same flags and --resume`);
    process.exit(128 + os.constants.signals[signal]);
  }
  const report = await writeRunsReport(path.join(out, 'runs'), out, flags.baseline);
  say(`report: ${report}`);
  const diverged = [
    ...new Set(results.filter((r) => r.status === 'diverged').map((r) => r.run.config.label)),
  ];
  if (diverged.length > 0) {
    say(
      `compare: ${diverged.join(', ')} diverged (non-finite metrics or gradients); the report lists ${diverged.length === 1 ? 'it' : 'them'} as diverged and compares the others`,
    );
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    throw new UserInputError(
      `${failed.length} of ${results.length} runs failed (see above); the report covers the finished ones. Fix the cause and rerun with --resume`,
    );
  }
}

/** The runs of `compare`: a tuned comparison, or a grid (one setting: the plain comparison). */
async function runSweeps(
  overrides: Overrides,
  out: string,
  flags: RunFlags & { tune?: boolean; tuneSeeds?: number },
  execute: (plan: SweepPlan) => Promise<WorkerResult[]>,
): Promise<WorkerResult[]> {
  let results: WorkerResult[];
  if (flags.tune) {
    results = await runTunedComparison(overrides, out, {
      tuneSeeds: flags.tuneSeeds ?? 2,
      resume: flags.resume ?? false,
      command: commandLine(),
      execute,
      say,
    });
  } else {
    const plan = planSweep(overrides, out);
    prepareSweepFolder(plan, flags.resume ?? false, commandLine());
    const labels = [...new Set(plan.runs.map((r) => r.config.label))];
    say(
      `compare: task ${overrides.task ?? 'mnist-mlp'}, ${labels.join(' vs ')}, ${overrides.seeds ?? 3} seeds, ${plan.runs.length} runs in ${out}`,
    );
    results = await execute(plan);
  }
  return results;
}

/**
 * The `compare` command that made a comparison's runs, from its sweep.json (in the runs folder's
 * parent, where `compare` writes it, or in the folder itself); undefined when there is none.
 */
function sweepCommand(runsRoot: string): string | undefined {
  for (const dir of [path.dirname(path.resolve(runsRoot)), path.resolve(runsRoot)]) {
    try {
      const sweep = JSON.parse(readFileSync(path.join(dir, SWEEP_FILE), 'utf8')) as unknown;
      const command = (sweep as { command?: unknown }).command;
      if (typeof command === 'string') return command;
    } catch {
      // No sweep.json here (or not readable JSON): try the next place.
    }
  }
  return undefined;
}

/**
 * Writes the report of the runs below `runsRoot`. Version, backend and machine come from the runs'
 * own summaries: the report describes what produced the numbers, not where it was rebuilt.
 */
async function writeRunsReport(
  runsRoot: string,
  outDir: string,
  baseline?: string,
  rebuilding = false,
): Promise<string> {
  const runs = await readRuns(runsRoot);
  const first = runs.find((r) => r.summary)?.summary;
  const distinct = (pick: (s: NonNullable<RunData['summary']>) => string) =>
    [...new Set(runs.flatMap((r) => (r.summary ? [pick(r.summary)] : [])))].join('; ') || 'unknown';
  const madeBy = rebuilding ? sweepCommand(runsRoot) : undefined;
  const written = await writeReport({
    runs,
    outDir,
    ...(baseline !== undefined && { baseline }),
    ...withTuning(runsRoot),
    meta: {
      command: madeBy ?? commandLine(),
      ...(madeBy !== undefined && { rebuiltWith: commandLine() }),
      packageVersion: first?.versions.package ?? 'unknown',
      backend: distinct((s) => s.backendDetail ?? s.backend),
      machine: distinct((s) => s.machine),
    },
  });
  return written.files.markdown;
}

/** The tuning record of the comparison whose runs are in `runsRoot`, when it was tuned. */
function withTuning(runsRoot: string) {
  const tuning = readTuning(path.dirname(path.resolve(runsRoot)));
  return tuning === undefined ? {} : { tuning };
}

async function reportCommand(runsRoot: string, flags: { out?: string; baseline?: string }) {
  const out = flags.out ?? runsRoot;
  // A missing runs folder is reported by readRuns; locking would create it.
  if (flags.out !== undefined || existsSync(runsRoot)) {
    lockFolder(out, commandLine(), flags.out === undefined ? 'runs folder' : '--out');
  }
  say(`report: ${await writeRunsReport(runsRoot, out, flags.baseline, true)}`);
}

export function buildProgram(): Command {
  const program = new Command('weight-prediction')
    .description('Weight prediction for TensorFlow.js: train and compare optimizers, write reports')
    .showHelpAfterError('(add --help for usage)')
    // Read by main.ts (so it works before parsing too); declared here so commander accepts it.
    .option(
      '--verbose',
      'print the stack trace of an unexpected error (or WEIGHT_PREDICTION_DEBUG=1)',
    );

  addRunFlags(
    program
      .command('compare')
      .description(
        'train a task with several optimizer configurations over seeds and write a report',
      ),
    true,
  )
    .option('--seeds <n>', 'number of seeds (1..n)', integerAtLeast(1))
    .option('--jobs <n>', 'runs in parallel (default: the number of cores)', integerAtLeast(1))
    .option('--baseline <label>', 'configuration the others are compared with (default: s = 0)')
    .option(
      '--tune',
      'tune each configuration on validation over the --lr/--weight-decay lists, then evaluate the chosen settings on --seeds fresh seeds',
    )
    .option(
      '--tune-seeds <n>',
      'seeds per setting while tuning (1001..1000+n; default 2)',
      integerAtLeast(1),
    )
    .option(
      '--queue <url>',
      'enqueue the runs on BullMQ over Redis (redis://HOST:PORT) for `worker`s to train, instead of training here',
    )
    .option('--queue-name <name>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .action(compareCommand);

  addRunFlags(
    program.command('train').description('train one configuration with one seed, with checkpoints'),
    false,
  )
    .option('--overwrite', 'replace the run already in --out (start afresh over its files)')
    .option('--seed <n>', 'seed', integerAtLeast(0))
    .option('--quiet', 'no progress or messages')
    .addOption(
      new Option('--run-config <file>', 'resolved run configuration (used by compare)').hideHelp(),
    )
    .action(trainCommand);

  program
    .command('report')
    .description('rebuild a report from the logs of finished runs')
    .argument('<runs-folder>', 'folder holding run folders (e.g. results/mnist-mlp/runs)')
    .option('--out <folder>', 'where to write the report (default: the runs folder)')
    .option('--baseline <label>', 'configuration the others are compared with')
    .action(reportCommand);

  addWorkerCommands(program);

  program
    .command('tasks')
    .description('list the task presets and their recipes')
    .action(() => {
      for (const p of PRESETS) process.stdout.write(`${p.name}\n  ${p.description}\n`);
    });

  return program;
}
