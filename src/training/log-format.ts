/**
 * The on-disk format of one training run, shared by the training loop (writer) and the report
 * (reader). A run folder holds `metrics.jsonl` (one JSON object per line, appended as training
 * goes) and, once the run has finished, `summary.json`.
 */

/** The run folder's metrics log and final summary (their one definition). */
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';
/** Written instead of summary.json when a run's metrics went non-finite (see RunDivergedError). */
export const DIVERGED_FILE = 'diverged.json';

export type MetricName = 'accuracy' | 'perplexity';

/** Logged every `logEvery` updates. `loss` is the mini-batch training loss (measured at θ̂ when predicting). */
export interface StepRecord {
  type: 'step';
  /** Completed optimizer updates. */
  step: number;
  /** 1-based epoch in progress. */
  epoch: number;
  loss: number;
  learningRate: number;
  elapsedSeconds: number;
  samplesPerSecond: number;
  /**
   * Updates skipped so far for a non-finite gradient (`nonFiniteGradients: 'skip'`); present when
   * the optimizer counts them (the optimizers of this package do).
   */
  skippedUpdates?: number;
}

/** Logged at the end of every epoch; test metrics are measured with the true weights θ_t. */
export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  trainLoss: number;
  testLoss: number;
  /** Accuracy in [0, 1], or perplexity. */
  testMetric: number;
  /** On the validation split held out from training (image tasks that have one). */
  validLoss?: number;
  validMetric?: number;
  metric: MetricName;
  learningRate: number;
  epochSeconds: number;
  elapsedSeconds: number;
  /** Training samples (or tokens, for language models) per second during this epoch. */
  samplesPerSecond: number;
  /** Updates skipped so far for a non-finite gradient (see StepRecord). */
  skippedUpdates?: number;
}

export type MetricsRecord = StepRecord | EpochRecord;

/** The held-out split a run's per-epoch metric is measured on. */
export type EvaluationSplit = 'test' | 'validation';

/**
 * A language model's data as it was trained and evaluated (after any token limits), and the
 * count-based baseline on the same tokens (see `kneserNeyBaseline` in data/kneser-ney.ts).
 */
export interface CorpusSummary {
  /** Words in the vocabulary, `<unk>` and `<eos>` included. */
  vocabSize: number;
  tokens: { train: number; validation: number; test: number };
  /** Share of `<unk>` among each split's tokens. */
  unkRate: { train: number; validation: number; test: number };
  /** Interpolated Kneser–Ney bigram trained on the training pairs the model trains on. */
  kneserNeyBigram: {
    discount: number;
    unigramDiscount: number;
    /** Training pairs counted. */
    trainPairs: number;
    /** Over the pairs the model's perplexity is computed over (absent: split too short). */
    perplexity: { validation?: number; test?: number };
  };
}

/** `summary.json`, written atomically when a run finishes. */
export interface RunSummary {
  /** Configuration label shown in reports, e.g. `adamw s=1`. */
  label: string;
  task: string;
  seed: number;
  metric: MetricName;
  higherIsBetter: boolean;
  /**
   * The held-out split behind `testMetric` / `testLoss` (the field names are historical). Absent
   * in summaries written before it was recorded: read as 'validation' for perplexity (language
   * models evaluated on their validation split), else 'test'.
   */
  evaluatedOn?: EvaluationSplit;
  final: {
    testMetric: number;
    testLoss: number;
    trainLoss: number;
    /** Last epoch's validation metric and loss, when the task held out a validation split. */
    validMetric?: number;
    validLoss?: number;
  };
  best: { testMetric: number; epoch: number };
  epochs: number;
  steps: number;
  wallSeconds: number;
  secondsPerEpoch: number;
  /** Bytes the optimizer holds beyond the model's weights (state slots and prediction cache). */
  optimizerMemoryBytes: number;
  /** Updates skipped for a non-finite gradient over the whole run (see StepRecord). */
  skippedUpdates?: number;
  /** The full resolved configuration of the run. */
  config: Record<string, unknown>;
  /** Language models: the data as trained and evaluated, and the Kneser–Ney bigram baseline. */
  corpus?: CorpusSummary;
  versions: { package: string; tfjs: string; node: string };
  backend: string;
  /**
   * The backend in full, when the caller knew it: SIMD and threads on wasm, whether the native
   * addon ran and on how many threads (what a bit-for-bit rerun needs to match).
   */
  backendDetail?: string;
  machine: string;
  command: string;
}

/**
 * `diverged.json`, written (instead of summary.json) when a run stops because its metrics went
 * non-finite or its optimizer refused a non-finite gradient.
 */
export interface DivergedRecord {
  label: string;
  task: string;
  seed: number;
  /** Epoch in progress, and updates completed, when it stopped. */
  epoch: number;
  step: number;
  /** One line: what went non-finite. */
  reason: string;
  skippedUpdates?: number;
}
