import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../data/rng.js';
import { RunDivergedError, UserInputError } from '../errors.js';
import {
  getDropoutState,
  setDropoutSeed,
  setDropoutState,
  type DropoutState,
} from '../models/dropout.js';
import {
  captureModel,
  captureOptimizer,
  captureTensors,
  arrayToTensor,
  configHash,
  loadCheckpoint,
  modelVariableSpecs,
  restoreModel,
  restoreOptimizer,
  saveCheckpoint,
  validateCheckpoint,
  type CheckpointState,
} from './checkpoint.js';
import { ensureWritableDir, JsonLinesWriter, writeFileAtomic } from '../files.js';
import type {
  CorpusSummary,
  DivergedRecord,
  EpochRecord,
  EvaluationSplit,
  MetricName,
  MetricsRecord,
  RunSummary,
  StepRecord,
} from './log-format.js';
import { DIVERGED_FILE, METRICS_FILE, SUMMARY_FILE } from './log-format.js';
import { checkProgressMode, createProgress, type ProgressMode } from './progress.js';

/** One update's worth of data, prepared by a task adapter. */
export interface TrainBatch {
  /** The loss closure given to `optimizer.minimize`; it runs exactly once. */
  loss: () => tf.Scalar;
  /** Samples (classification) or tokens (language models) in this batch, for throughput. */
  size: number;
  /** Frees the batch's tensors and takes any state the closure kept (e.g. the LSTM's final state). */
  finish(): void;
}

/**
 * What differs between tasks. The shared loop in `train` owns epochs, updates, metrics, logs,
 * checkpoints and resume; an adapter owns the data, the loss and the evaluation.
 */
export interface TaskAdapter {
  task: string;
  metric: MetricName;
  higherIsBetter: boolean;
  /** Unit of `TrainBatch.size`, for the progress display. */
  unit: string;
  model: tf.LayersModel;
  batchesPerEpoch: number;
  /** Task options that change the numbers (they enter the config hash and the summary). */
  config: Record<string, unknown>;
  /** Facts about a language model's data, for the summary (outside the config hash). */
  corpus?: CorpusSummary;
  /** Called at the start of every epoch (also when resuming in its middle, with the epoch-start RNG). */
  beginEpoch(epoch: number, rng: Rng): void;
  batch(index: number, rng: Rng): TrainBatch;
  /** Tensors carried from one batch to the next (saved in checkpoints); the adapter owns them. */
  carried(): tf.Tensor[];
  /** Replaces the carried tensors; the adapter takes ownership. */
  setCarried(tensors: tf.Tensor[]): void;
  /** The split `evaluate` measures (reports and logs name it). */
  evaluatedOn: EvaluationSplit;
  /** Loss and metric on the held-out split, with the current (true) weights. */
  evaluate(): Promise<{ loss: number; metric: number }>;
  /** Loss and metric on a validation split held out from training, when the task has one. */
  evaluateValidation?(): Promise<{ loss: number; metric: number }>;
  dispose(): void;
}

/** Options shared by `trainClassifier` and `trainLanguageModel`. */
export interface TrainOptions {
  /** Any tf.Optimizer; `minimize(f, true, variables)` is called once per update. */
  optimizer: tf.Optimizer;
  epochs: number;
  batchSize: number;
  /**
   * Seeds the data order and augmentation (an `Rng` keyed by it) and, unless `dropoutSeed` is
   * given, the SeededDropout mask stream. The model's initializers are seeded by its builder.
   */
  seed: number;
  /** Seed of the SeededDropout mask stream (default: `seed`). */
  dropoutSeed?: number;
  /** Folder for metrics.jsonl, summary.json and checkpoint.ckpt; without it nothing is written. */
  outDir?: string;
  /** A step record every this many updates (default 10). */
  logEvery?: number;
  /** A checkpoint every this many updates (0: only at epoch ends; default 0). Needs outDir. */
  checkpointEvery?: number;
  /** Continue from `<outDir>/checkpoint.ckpt` when it exists (start afresh when it does not). */
  resume?: boolean;
  /** Start afresh even if outDir already holds a run (its files are replaced). */
  overwrite?: boolean;
  /** Run configuration to record in the summary and hash into checkpoints (model, data, …). */
  config?: Record<string, unknown>;
  /** Label shown in reports (default: the optimizer's class name). */
  label?: string;
  /** Task name in the summary, e.g. a preset's (default: the dataset's name). */
  task?: string;
  /** The backend in full (e.g. `describeBackend()`), recorded in the summary as backendDetail. */
  backendDescription?: string;
  /** Command line recorded in the summary (default: process.argv). */
  command?: string;
  progress?: ProgressMode;
  /** Called after every epoch's evaluation, before the epoch's checkpoint. */
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
  /** Called after every update with the completed step count and the batch loss. */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

export interface TrainResult {
  records: MetricsRecord[];
  summary: RunSummary;
}

/** Rng.fromKey(seed, DATA_STREAM) orders (and augments) the training data. */
const DATA_STREAM = 0xda7a;

export const CHECKPOINT_FILE = 'checkpoint.ckpt';

function checkInteger(name: string, value: unknown, min: number, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new UserInputError(
      `Invalid ${name} ${String(value)}: expected an integer >= ${min}${hint}`,
    );
  }
  return value;
}

/** Checks the options every task shares; throws UserInputError before anything is trained. */
export function checkTrainOptions(
  options: TrainOptions,
  maxBatchSize: number,
  tooLarge: string,
): void {
  if (!(options.optimizer instanceof tf.Optimizer)) {
    throw new UserInputError('Invalid optimizer: pass a tf.Optimizer (e.g. new AdamW({...}))');
  }
  checkInteger('epochs', options.epochs, 1, ' (e.g. 10)');
  checkInteger('batchSize', options.batchSize, 1, ' (e.g. 128)');
  if (options.batchSize > maxBatchSize) {
    throw new UserInputError(
      `Invalid batchSize ${options.batchSize}: ${tooLarge}; use at most ${maxBatchSize}`,
    );
  }
  for (const [name, value] of [
    ['seed', options.seed],
    ['dropoutSeed', options.dropoutSeed ?? 0],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new UserInputError(
        `Invalid ${name} ${String(value)}: expected an integer >= 0 (e.g. 42)`,
      );
    }
  }
  if (options.logEvery !== undefined) checkInteger('logEvery', options.logEvery, 1, ' (e.g. 10)');
  if (options.checkpointEvery !== undefined) {
    checkInteger('checkpointEvery', options.checkpointEvery, 0, ' (0: at epoch ends only)');
  }
  if (
    options.outDir !== undefined &&
    (typeof options.outDir !== 'string' || options.outDir === '')
  ) {
    throw new UserInputError(
      `Invalid outDir ${JSON.stringify(options.outDir)}: expected a folder path`,
    );
  }
  if (options.outDir === undefined && (options.resume || options.checkpointEvery)) {
    throw new UserInputError('resume and checkpointEvery need outDir: pass the run folder');
  }
  checkProgressMode(options.progress);
}

/**
 * Updates the optimizer skipped for a non-finite gradient since it was made, when it counts them
 * (the optimizers of this package, with `nonFiniteGradients: 'skip'`); undefined for others.
 */
function optimizerSkippedUpdates(optimizer: tf.Optimizer): number | undefined {
  const count = (optimizer as unknown as { skippedUpdates?: unknown }).skippedUpdates;
  return typeof count === 'number' ? count : undefined;
}

/** Metrics as a message shows them: NaN and ±Infinity as such, others to 4 decimals. */
const formatMetric = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** The learning rate the next update uses, for the optimizers of this package and TF.js's own. */
function nextLearningRate(optimizer: tf.Optimizer): number {
  const o = optimizer as unknown as { currentLearningRate?: unknown; learningRate?: unknown };
  if (typeof o.currentLearningRate === 'number') return o.currentLearningRate;
  if (typeof o.learningRate === 'number') return o.learningRate;
  return NaN;
}

function optimizerDescription(optimizer: tf.Optimizer): Record<string, unknown> {
  let config: unknown = null;
  try {
    config = optimizer.getConfig();
  } catch {
    // A learning rate given as a function cannot be serialized; the class name still identifies it.
  }
  return { className: optimizer.getClassName(), config };
}

async function optimizerMemoryBytes(optimizer: tf.Optimizer, variables: tf.Variable[]) {
  const o = optimizer as unknown as { memoryBytes?: (v: tf.Variable[]) => number };
  if (typeof o.memoryBytes === 'function') return o.memoryBytes(variables);
  const weights = await optimizer.getWeights();
  let bytes = 0;
  for (const w of weights) {
    if (w.name !== 'iter') bytes += w.tensor.size * 4;
    if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
  return bytes;
}

function packageVersion(): string {
  try {
    const file = new URL('../../package.json', import.meta.url);
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.arch()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

/**
 * The training loop shared by every task: epochs of updates through `optimizer.minimize`, step and
 * epoch metrics, evaluation with the true weights after each epoch, checkpoints and exact resume.
 * A run whose epoch metrics go non-finite, or whose optimizer refuses a non-finite gradient, stops
 * with a RunDivergedError and leaves diverged.json (not summary.json) in `outDir`.
 */
export async function train(adapter: TaskAdapter, options: TrainOptions): Promise<TrainResult> {
  const { optimizer, epochs, model } = { ...options, model: adapter.model };
  const logEvery = options.logEvery ?? 10;
  const checkpointEvery = options.checkpointEvery ?? 0;
  const progress = createProgress(checkProgressMode(options.progress), adapter.unit);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const nb = adapter.batchesPerEpoch;
  const totalSteps = epochs * nb;

  const config: Record<string, unknown> = {
    ...options.config,
    task: options.task ?? adapter.task,
    ...adapter.config,
    epochs,
    batchSize: options.batchSize,
    seed: options.seed,
    dropoutSeed: options.dropoutSeed ?? options.seed,
    logEvery,
    optimizer: optimizerDescription(optimizer),
  };
  const hash = configHash(config);

  // Files: decide between resume and a fresh start before touching anything.
  const out = options.outDir;
  const ckptFile = out === undefined ? undefined : path.join(out, CHECKPOINT_FILE);
  const metricsFile = out === undefined ? undefined : path.join(out, METRICS_FILE);
  const summaryFile = out === undefined ? undefined : path.join(out, SUMMARY_FILE);
  const divergedFile = out === undefined ? undefined : path.join(out, DIVERGED_FILE);
  let state: CheckpointState | undefined;
  if (out !== undefined) {
    ensureWritableDir(out);
    if (options.resume && fs.existsSync(divergedFile!)) {
      // Resuming would replay the same updates into the same non-finite metrics.
      throw new UserInputError(
        `outDir ${JSON.stringify(out)} holds a run that diverged (${DIVERGED_FILE}): change the settings (e.g. a lower learning rate) and train into another folder, or pass overwrite to start afresh there`,
      );
    }
    if (options.resume && fs.existsSync(ckptFile!)) {
      state = loadCheckpoint(ckptFile!);
      if (state.configHash !== hash) refuseOtherEpochCount(summaryFile!, epochs, out);
      validateCheckpoint(state, { configHash: hash, model: modelVariableSpecs(model) }, ckptFile);
    } else if (!options.resume && !options.overwrite) {
      const existing = [ckptFile!, metricsFile!, summaryFile!, divergedFile!].filter((f) =>
        fs.existsSync(f),
      );
      if (existing.length > 0) {
        throw new UserInputError(
          `outDir ${JSON.stringify(out)} already holds a run (${existing.map((f) => path.basename(f)).join(', ')}): pass resume to continue it, overwrite to replace it, or choose another folder`,
        );
      }
    }
  }

  let step = 0;
  let epoch = 1;
  let batchInEpoch = 0;
  let records: MetricsRecord[] = [];
  let rng: Rng;
  let epochStartRng: unknown;
  // Accumulators of the epoch in progress (float64 sums), saved in checkpoints.
  const freshEpoch = () => ({ lossSum: 0, lossCount: 0, epochSeconds: 0, epochSamples: 0 });
  let acc = freshEpoch();
  let elapsedBefore = 0;
  let resumedMidEpoch = false;
  // Skipped updates: those of earlier sessions (from the checkpoint) plus the optimizer's count
  // since this session began (an optimizer's counter is not part of its saved state).
  let skippedBefore = 0;
  const skippedAtStart = optimizerSkippedUpdates(optimizer);

  if (state) {
    await restoreOptimizer(optimizer, state.optimizer, model);
    restoreModel(model, state.model);
    setDropoutState(state.dropout as DropoutState);
    ({ step, epoch, batchInEpoch } = state);
    records = state.metrics;
    const { elapsedSeconds, skippedUpdates, ...epochAcc } = state.loop;
    acc = { ...acc, ...epochAcc };
    elapsedBefore = elapsedSeconds ?? 0;
    skippedBefore = skippedUpdates ?? 0;
    epochStartRng = state.rng.epochStart;
    rng = Rng.fromState(state.rng.current as number[]);
    resumedMidEpoch = batchInEpoch > 0;
    if (resumedMidEpoch) {
      // Redo the epoch's start (e.g. its shuffle) from the saved epoch-start state, then jump to now.
      adapter.beginEpoch(epoch, Rng.fromState(epochStartRng as number[]));
      adapter.setCarried(state.carry.map(arrayToTensor));
    }
  } else {
    // A stream of its own, so the data order does not shift when other seeded parts change.
    rng = Rng.fromKey(options.seed, DATA_STREAM);
    setDropoutSeed(options.dropoutSeed ?? options.seed);
    epochStartRng = rng.getState();
    if (out !== undefined) {
      fs.rmSync(summaryFile!, { force: true });
      fs.rmSync(ckptFile!, { force: true });
      fs.rmSync(divergedFile!, { force: true });
    }
  }
  // metrics.jsonl is rewritten from the checkpoint's records: lines written after it are dropped.
  const writer = metricsFile === undefined ? undefined : new JsonLinesWriter(metricsFile, records);

  const skipped = (): number | undefined => {
    const now = optimizerSkippedUpdates(optimizer);
    return now === undefined ? undefined : skippedBefore + now - (skippedAtStart ?? 0);
  };
  const withSkipped = () => {
    const count = skipped();
    return count === undefined ? {} : { skippedUpdates: count };
  };
  /** Records why the run stopped (diverged.json, in place of summary.json) and returns the error. */
  const diverged = (reason: string, cause?: unknown): RunDivergedError => {
    if (divergedFile !== undefined) {
      const record: DivergedRecord = {
        label: options.label ?? optimizer.getClassName(),
        task: options.task ?? adapter.task,
        seed: options.seed,
        epoch,
        step,
        reason,
        ...withSkipped(),
      };
      writeFileAtomic(divergedFile, JSON.stringify(record, null, 2) + '\n');
    }
    const where = out === undefined ? '' : ` (recorded in ${divergedFile})`;
    return new RunDivergedError(
      `The run diverged: ${reason}${where}`,
      cause === undefined ? undefined : { cause },
    );
  };

  const sessionStart = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - sessionStart) / 1000;
  const append = (record: MetricsRecord) => {
    records.push(record);
    writer?.append(record);
  };
  /** Saves where the run stands: `atEpoch`/`atBatch` are the next batch to train on. */
  const checkpoint = async (atEpoch: number, atBatch: number) => {
    if (ckptFile === undefined) return;
    saveCheckpoint(ckptFile, {
      configHash: hash,
      step,
      epoch: atEpoch,
      batchInEpoch: atBatch,
      rng: { epochStart: epochStartRng, current: rng.getState() },
      dropout: getDropoutState(),
      loop: { ...acc, elapsedSeconds: elapsed(), skippedUpdates: skipped() ?? 0 },
      metrics: records,
      model: await captureModel(model),
      optimizer: await captureOptimizer(optimizer, model),
      carry: await captureTensors(adapter.carried(), 'carry/'),
    });
  };

  try {
    progress.start(totalSteps, step, epoch);
    let lastLogTime = performance.now();
    let lastLogSamples = 0;
    for (; epoch <= epochs; epoch++) {
      if (!resumedMidEpoch) {
        epochStartRng = rng.getState();
        adapter.beginEpoch(epoch, rng);
        batchInEpoch = 0;
        acc = freshEpoch();
      }
      resumedMidEpoch = false;
      while (batchInEpoch < nb) {
        const t0 = performance.now();
        const learningRate = nextLearningRate(optimizer);
        const batch = adapter.batch(batchInEpoch, rng);
        let lossTensor: tf.Scalar | null;
        try {
          lossTensor = optimizer.minimize(batch.loss, true, variables);
        } catch (error) {
          // The optimizer refused a non-finite gradient ('throw'): a divergence like any other.
          if (error instanceof Error && error.name === 'NonFiniteGradientError') {
            throw diverged(`update ${step + 1} (epoch ${epoch}): ${error.message}`, error);
          }
          throw error;
        } finally {
          batch.finish();
        }
        const loss = (await lossTensor!.data())[0]!;
        lossTensor!.dispose();
        step++;
        batchInEpoch++;
        const seconds = (performance.now() - t0) / 1000;
        acc.lossSum += loss;
        acc.lossCount++;
        acc.epochSeconds += seconds;
        acc.epochSamples += batch.size;
        lastLogSamples += batch.size;
        if (step % logEvery === 0) {
          const now = performance.now();
          append({
            type: 'step',
            step,
            epoch,
            loss,
            learningRate,
            elapsedSeconds: elapsed(),
            samplesPerSecond: lastLogSamples / Math.max((now - lastLogTime) / 1000, 1e-9),
            ...withSkipped(),
          } satisfies StepRecord);
          lastLogTime = now;
          lastLogSamples = 0;
        }
        progress.update(step, {
          epoch,
          loss,
          rate: batch.size / Math.max(seconds, 1e-9),
          skipped: skipped() ?? 0,
        });
        if (options.onStep) await options.onStep(step, loss);
        if (checkpointEvery > 0 && step % checkpointEvery === 0) {
          await checkpoint(epoch, batchInEpoch);
        }
      }
      const evaluation = await adapter.evaluate();
      const validation = await adapter.evaluateValidation?.();
      const record: EpochRecord = {
        type: 'epoch',
        epoch,
        step,
        trainLoss: acc.lossSum / Math.max(acc.lossCount, 1),
        testLoss: evaluation.loss,
        testMetric: evaluation.metric,
        ...(validation && { validLoss: validation.loss, validMetric: validation.metric }),
        metric: adapter.metric,
        learningRate: nextLearningRate(optimizer),
        epochSeconds: acc.epochSeconds,
        elapsedSeconds: elapsed(),
        samplesPerSecond: acc.epochSamples / Math.max(acc.epochSeconds, 1e-9),
        ...withSkipped(),
      };
      append(record);
      const skippedNote = record.skippedUpdates ? `, ${record.skippedUpdates} updates skipped` : '';
      progress.log(
        `epoch ${epoch}/${epochs}: train loss ${formatMetric(record.trainLoss)}, ${validation ? `validation ${adapter.metric} ${formatMetric(validation.metric)}, ` : ''}${adapter.evaluatedOn} loss ${formatMetric(record.testLoss)}, ${adapter.metric} ${formatMetric(record.testMetric)}, ${Math.round(record.samplesPerSecond)} ${adapter.unit}/s${skippedNote}`,
      );
      const nonFinite = (
        [
          ['train loss', record.trainLoss],
          [`${adapter.evaluatedOn} loss`, record.testLoss],
          [adapter.metric, record.testMetric],
        ] as const
      ).filter(([, value]) => !Number.isFinite(value));
      if (nonFinite.length > 0) {
        const skippedPart = record.skippedUpdates
          ? ` (${record.skippedUpdates} of ${step} updates were skipped for a non-finite gradient)`
          : '';
        throw diverged(
          `after epoch ${epoch} (update ${step}) the ${nonFinite.map(([name, value]) => `${name} is ${value}`).join(', ')}${skippedPart}: lower the learning rate or set clipGlobalNorm`,
        );
      }
      if (options.onEpochEnd) await options.onEpochEnd(record);
      // The epoch-end checkpoint describes the start of the next epoch.
      acc = freshEpoch();
      epochStartRng = rng.getState();
      await checkpoint(epoch + 1, 0);
    }
  } finally {
    progress.stop();
    writer?.close();
  }

  const summary = buildSummary(options, adapter, config, records, step, elapsed());
  const skippedTotal = skipped();
  if (skippedTotal !== undefined) summary.skippedUpdates = skippedTotal;
  summary.optimizerMemoryBytes = await optimizerMemoryBytes(optimizer, variables);
  if (summaryFile !== undefined)
    writeFileAtomic(summaryFile, JSON.stringify(summary, null, 2) + '\n');
  return { records, summary };
}

/**
 * Resuming a finished run with another number of epochs is not a continuation: a schedule is laid
 * over the run's total updates, so with a decaying one even the epochs already trained would differ.
 * Says so, and what to do instead, where the checkpoint's configuration check would only say
 * "different configuration".
 */
function refuseOtherEpochCount(summaryFile: string, epochs: number, out: string): void {
  let finishedEpochs: unknown;
  try {
    finishedEpochs = (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as RunSummary).epochs;
  } catch {
    return; // Unfinished (no summary): the configuration check explains.
  }
  if (typeof finishedEpochs !== 'number' || finishedEpochs === epochs) return;
  throw new UserInputError(
    `${JSON.stringify(out)} holds a finished run of ${plural(finishedEpochs, 'epoch')}; resuming takes its settings, and ` +
      `${plural(epochs, 'epoch')} is a different run, not a continuation (with a cosine or step schedule even its first ${plural(finishedEpochs, 'epoch')} would differ): ` +
      'train it in another output folder, or replace this run (overwrite, --overwrite in the CLI)',
  );
}

/** "1 epoch", "2 epochs". */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function buildSummary(
  options: TrainOptions,
  adapter: TaskAdapter,
  config: Record<string, unknown>,
  records: MetricsRecord[],
  steps: number,
  wallSeconds: number,
): RunSummary {
  const epochRecords = records.filter((r): r is EpochRecord => r.type === 'epoch');
  const last = epochRecords[epochRecords.length - 1]!;
  let best = last;
  for (const r of epochRecords) {
    const better = adapter.higherIsBetter
      ? r.testMetric > best.testMetric
      : r.testMetric < best.testMetric;
    if (better) best = r;
  }
  return {
    label: options.label ?? options.optimizer.getClassName(),
    task: options.task ?? adapter.task,
    seed: options.seed,
    metric: adapter.metric,
    higherIsBetter: adapter.higherIsBetter,
    evaluatedOn: adapter.evaluatedOn,
    final: {
      testMetric: last.testMetric,
      testLoss: last.testLoss,
      trainLoss: last.trainLoss,
      ...(last.validMetric !== undefined && {
        validMetric: last.validMetric,
        validLoss: last.validLoss!,
      }),
    },
    best: { testMetric: best.testMetric, epoch: best.epoch },
    epochs: options.epochs,
    steps,
    wallSeconds,
    secondsPerEpoch: epochRecords.reduce((a, r) => a + r.epochSeconds, 0) / epochRecords.length,
    optimizerMemoryBytes: 0,
    config,
    ...(adapter.corpus !== undefined && { corpus: adapter.corpus }),
    versions: { package: packageVersion(), tfjs: tf.version.tfjs, node: process.versions.node },
    backend: tf.getBackend(),
    ...(options.backendDescription !== undefined && {
      backendDetail: options.backendDescription,
    }),
    machine: machineDescription(),
    command: options.command ?? process.argv.join(' '),
  };
}
