/**
 * The on-disk format of one training run, shared by the training loop (writer) and the report
 * (reader). A run folder holds `metrics.jsonl` (one JSON object per line, appended as training
 * goes) and, once the run has finished, `summary.json`.
 */

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
}

export type MetricsRecord = StepRecord | EpochRecord;

/** The held-out split a run's per-epoch metric is measured on. */
export type EvaluationSplit = 'test' | 'validation';

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
  /** The full resolved configuration of the run. */
  config: Record<string, unknown>;
  versions: { package: string; tfjs: string; node: string };
  backend: string;
  machine: string;
  command: string;
}
