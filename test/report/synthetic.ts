import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  CorpusSummary,
  EpochRecord,
  MetricName,
  MetricsRecord,
  RunSummary,
  StepRecord,
} from '../../src/training/log-format.js';

/** One synthetic run: its test metric per epoch decides everything the report computes. */
export interface SyntheticRun {
  task: string;
  label: string;
  seed: number;
  metric: MetricName;
  predictionSteps: number;
  /** Test metric at the end of each epoch. */
  testMetric: number[];
  secondsPerEpoch: number;
  optimizerMemoryBytes: number;
  stepsPerEpoch?: number;
  logEvery?: number;
  /** A language model's data and Kneser–Ney baseline, as a run logs them. */
  corpus?: CorpusSummary;
}

/** The records the training loop would have logged for `run` (losses follow a fixed formula). */
export function syntheticRecords(run: SyntheticRun): MetricsRecord[] {
  const stepsPerEpoch = run.stepsPerEpoch ?? 100;
  const logEvery = run.logEvery ?? 10;
  const records: MetricsRecord[] = [];
  let step = 0;
  run.testMetric.forEach((testMetric, i) => {
    const epoch = i + 1;
    for (let k = 0; k < stepsPerEpoch; k++) {
      step += 1;
      if (step % logEvery !== 0) continue;
      const rec: StepRecord = {
        type: 'step',
        step,
        epoch,
        loss: 2 * Math.exp(-step / 100) + 0.01 * run.seed + (run.predictionSteps > 0 ? -0.05 : 0),
        learningRate: 1e-3,
        elapsedSeconds: (step / stepsPerEpoch) * run.secondsPerEpoch,
        samplesPerSecond: 1000,
      };
      records.push(rec);
    }
    const rec: EpochRecord = {
      type: 'epoch',
      epoch,
      step,
      trainLoss: 2 * Math.exp(-step / 100),
      testLoss: run.metric === 'perplexity' ? Math.log(testMetric) : 1 - testMetric,
      testMetric,
      metric: run.metric,
      learningRate: 1e-3,
      epochSeconds: run.secondsPerEpoch,
      elapsedSeconds: epoch * run.secondsPerEpoch,
      samplesPerSecond: 1000,
    };
    records.push(rec);
  });
  return records;
}

export function syntheticSummary(run: SyntheticRun, records: MetricsRecord[]): RunSummary {
  const epochs = records.filter((r): r is EpochRecord => r.type === 'epoch');
  const higherIsBetter = run.metric === 'accuracy';
  let best = epochs[0]!;
  for (const e of epochs) {
    if (higherIsBetter ? e.testMetric > best.testMetric : e.testMetric < best.testMetric) best = e;
  }
  const last = epochs[epochs.length - 1]!;
  return {
    label: run.label,
    task: run.task,
    seed: run.seed,
    metric: run.metric,
    higherIsBetter,
    final: { testMetric: last.testMetric, testLoss: last.testLoss, trainLoss: last.trainLoss },
    best: { testMetric: best.testMetric, epoch: best.epoch },
    epochs: epochs.length,
    steps: last.step,
    wallSeconds: last.elapsedSeconds,
    secondsPerEpoch: run.secondsPerEpoch,
    optimizerMemoryBytes: run.optimizerMemoryBytes,
    config: { optimizer: { name: 'adamw', predictionSteps: run.predictionSteps }, seed: run.seed },
    ...(run.corpus && { corpus: run.corpus }),
    versions: { package: '0.1.0', tfjs: '4.22.0', node: process.versions.node },
    backend: 'cpu',
    machine: 'test machine',
    command: 'weight-prediction compare --test',
  };
}

/** Writes `run` as a run folder (metrics.jsonl, and summary.json unless `unfinished`). */
export function writeSyntheticRun(dir: string, run: SyntheticRun, unfinished = false): void {
  fs.mkdirSync(dir, { recursive: true });
  const records = syntheticRecords(run);
  fs.writeFileSync(
    path.join(dir, 'metrics.jsonl'),
    records.map((r) => JSON.stringify(r) + '\n').join(''),
  );
  if (!unfinished) {
    fs.writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify(syntheticSummary(run, records), null, 2),
    );
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `wp-report-${prefix}-`));
}

/**
 * The standard fixture: an accuracy task (3 seeds × 2 configurations) and a perplexity task
 * (2 seeds × 2 configurations), plus one unfinished run.
 *
 * Accuracy, final metric: baseline 0.95 / 0.96 / 0.94 (mean 0.95); s=1 0.96 / 0.97 / 0.945.
 * Perplexity, final metric: baseline 120 / 124 (mean 122); s=1 118 / 121; the Kneser-Ney bigram
 * they logged, 121 on validation: above s=1's mean, below the baseline's.
 */
export const ACCURACY_RUNS: SyntheticRun[] = [
  { seed: 1, label: 'adamw', predictionSteps: 0, testMetric: [0.9, 0.94, 0.95] },
  { seed: 2, label: 'adamw', predictionSteps: 0, testMetric: [0.91, 0.95, 0.96] },
  { seed: 3, label: 'adamw', predictionSteps: 0, testMetric: [0.89, 0.93, 0.94] },
  { seed: 1, label: 'adamw s=1', predictionSteps: 1, testMetric: [0.93, 0.955, 0.96] },
  { seed: 2, label: 'adamw s=1', predictionSteps: 1, testMetric: [0.95, 0.96, 0.97] },
  { seed: 3, label: 'adamw s=1', predictionSteps: 1, testMetric: [0.9, 0.93, 0.945] },
].map((r) => ({
  ...r,
  task: 'mnist-mlp',
  metric: 'accuracy' as const,
  secondsPerEpoch: r.predictionSteps > 0 ? 2.2 + 0.1 * r.seed : 2 + 0.1 * r.seed,
  optimizerMemoryBytes: r.predictionSteps > 0 ? 12_000 : 8_000,
}));

export const SYNTHETIC_CORPUS: CorpusSummary = {
  vocabSize: 10_002,
  tokens: { train: 1_252_765, validation: 71_436, test: 74_118 },
  unkRate: { train: 0.0447, validation: 0.0528, test: 0.0541 },
  kneserNeyBigram: {
    discount: 0.75,
    unigramDiscount: 0.75,
    trainPairs: 1_252_740,
    perplexity: { validation: 121, test: 130.5 },
  },
};

export const PERPLEXITY_RUNS: SyntheticRun[] = [
  { seed: 1, label: 'adamw', predictionSteps: 0, testMetric: [150, 130, 120] },
  { seed: 2, label: 'adamw', predictionSteps: 0, testMetric: [155, 135, 124] },
  { seed: 1, label: 'adamw s=1', predictionSteps: 1, testMetric: [140, 125, 118] },
  { seed: 2, label: 'adamw s=1', predictionSteps: 1, testMetric: [150, 128, 121] },
].map((r) => ({
  ...r,
  task: 'ptb-lstm',
  metric: 'perplexity' as const,
  secondsPerEpoch: 10,
  optimizerMemoryBytes: r.predictionSteps > 0 ? 3_000 : 2_000,
  stepsPerEpoch: 50,
  logEvery: 5,
  corpus: SYNTHETIC_CORPUS,
}));

/** Writes the standard fixture below a fresh temp folder and returns it. */
export function writeStandardFixture(): string {
  const root = tempDir('runs');
  for (const run of [...ACCURACY_RUNS, ...PERPLEXITY_RUNS]) {
    writeSyntheticRun(
      path.join(root, run.task, run.label.replace(/[^a-z0-9]+/gi, '-'), `seed-${run.seed}`),
      run,
    );
  }
  // Seed 4 of the baseline was killed in its second epoch: metrics, a partial line, no summary.
  const killed = path.join(root, 'mnist-mlp', 'adamw', 'seed-4');
  writeSyntheticRun(killed, { ...ACCURACY_RUNS[0]!, seed: 4, testMetric: [0.9, 0.5] }, true);
  fs.appendFileSync(path.join(killed, 'metrics.jsonl'), '{"type":"step","step":2');
  return root;
}
