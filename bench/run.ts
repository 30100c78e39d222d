/**
 * `npm run bench`: memory bandwidth, optimizer step time (tf ops vs fused loops) and training
 * throughput, measured side by side in one run on this machine (issue 5, item 3).
 *
 * Usage: `npm run bench [-- --quick] [-- --json] [-- --steps-only]`. With `--json` stdout carries
 * one JSON object and the table goes to stderr; progress always goes to stderr. `--steps-only`
 * times the optimizer steps (ours and PyTorch's) and no training.
 *
 * Each training model is timed ours, then PyTorch's (its four thread settings), then ours again,
 * keeping the faster of our two: on the shared host the speed drifts by 20% within minutes, and
 * with all our rows first and all PyTorch's after, the drift fell on one side of every ratio.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/kernels/backend.js';
import { NATIVE_ENV, nativeKernels, setNativeKernelsEnabled } from '../src/kernels/native.js';
import { setSimdStepsEnabled, simdSteps } from '../src/kernels/simd/index.js';
import {
  buildLstmLanguageModel,
  buildMlp,
  buildResNet,
  buildTransformerLanguageModel,
  buildVggCnn,
  type SequenceLanguageModel,
} from '../src/models/index.js';
import {
  AdamW,
  createOptimizer,
  type OptimizerKernel,
  type OptimizerName,
} from '../src/optimizers/index.js';
import { classificationLoss, languageModelLoss } from '../src/training/index.js';
import { UserInputError } from '../src/errors.js';

type Backend = 'cpu' | 'wasm';
/** tf ops; the fused single-pass loops in JS; the same loops in the native addon (all cores). */
type Path = 'tfjs' | 'fused-js' | 'fused-simd' | 'fused-native';
/** Training rows: wasm with the native addon's kernels, or wasm alone (JS/XNNPACK kernels). */
type TrainingBackend = 'wasm+native' | 'wasm';

interface OptimizerStepRow {
  optimizer: string;
  predictionSteps: number;
  params: number;
  path: Path;
  backend: Backend;
  msPerStep: number | null;
  gbPerSecond: number | null;
  /** s = 1 only: the loss's own gradient time, measured alone and subtracted from `minimize`. */
  gradientMs?: number;
  /** s = 1 only: the whole `minimize` call, gradient included. */
  minimizeMs?: number;
  note?: string;
}

interface TrainingRow {
  model: string;
  backend: TrainingBackend;
  optimizer: string;
  predictionSteps: number;
  samplesPerSecond: number;
  unit: 'samples' | 'tokens';
  msPerStep: number;
  steps: number;
  /** Trainable parameters of the model (a tied matrix counted once). */
  parameters: number;
  /**
   * s = 1 only: the median over repetitions of (this step's time / the s = 0 step's time next to
   * it), so that drift on a shared machine cancels within each pair.
   */
  pairedTimeRatio?: number;
}

interface Settings {
  json: boolean;
  quick: boolean;
  /** Internal: only the training rows, as JSON (the run without the addon, in a child process). */
  trainingOnly: boolean;
  /** Only the optimizer steps (and PyTorch's), no training. */
  stepsOnly: boolean;
}

const KNOWN_FLAGS = ['--json', '--quick', '--help', '--training-only', '--steps-only'];

function parseArgs(argv: string[]): Settings {
  for (const a of argv) {
    if (!KNOWN_FLAGS.includes(a)) {
      throw new UserInputError(`Unknown option '${a}': use ${KNOWN_FLAGS.join(', ')}.`);
    }
  }
  if (argv.includes('--help')) {
    console.log('npm run bench [-- --quick] [-- --json] [-- --steps-only]');
    process.exit(0);
  }
  return {
    json: argv.includes('--json'),
    quick: argv.includes('--quick'),
    trainingOnly: argv.includes('--training-only'),
    stepsOnly: argv.includes('--steps-only'),
  };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times `step` `reps` times after `warmup` calls and returns the per-call times in ms. Stops early
 * (after at least 3 timed calls) once `budgetMs` is spent, so slow paths do not dominate the run.
 */
async function timeRepeated(
  step: () => void | Promise<void>,
  warmup: number,
  reps: number,
  budgetMs: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
    if (times.length >= 3 && performance.now() - start > budgetMs) break;
  }
  return times;
}

// ---------------------------------------------------------------- memory bandwidth

interface Bandwidth {
  copyGBps: number;
  triadGBps: number;
  setGBps: number;
  /** The same copy and triad in the native addon on all its threads (null without the addon). */
  nativeCopyGBps: number | null;
  nativeTriadGBps: number | null;
  /** a += s·b in place (12 bytes/element, no write-allocate: the access pattern of a step). */
  nativeUpdateGBps: number | null;
  nativeThreads: number | null;
}

// Separate small functions so V8 optimises each loop as a whole (a loop inlined in a long
// function ran at a third of this speed).
function copyLoop(a: Float32Array, b: Float32Array): void {
  const n = a.length;
  for (let i = 0; i < n; i++) a[i] = b[i]!;
}

function triadLoop(a: Float32Array, b: Float32Array, c: Float32Array, s: number): void {
  const n = a.length;
  for (let i = 0; i < n; i++) a[i] = b[i]! + s * c[i]!;
}

/**
 * STREAM-style copy (a = b, 8 bytes/element) and triad (a = b + s·c, 12 bytes/element) in plain JS
 * loops, a `TypedArray.set` copy (memcpy), and copy, triad and an in-place update (a += s·b) in
 * the native addon on all cores,
 * over 64 MiB Float32Arrays (far larger than any cache), best of several.
 */
function measureBandwidth(quick: boolean): Bandwidth {
  const n = 16 * 1024 * 1024;
  const a = new Float32Array(n);
  const b = new Float32Array(n).fill(1);
  const c = new Float32Array(n).fill(2);
  a.fill(0); // touch every page first: first touch is expensive here and is not bandwidth
  const reps = quick ? 4 : 10;
  let copy = Infinity;
  let triad = Infinity;
  let set = Infinity;
  let nativeCopy = Infinity;
  let nativeTriad = Infinity;
  let nativeUpdate = Infinity;
  const native = nativeKernels();
  for (let r = 0; r < reps; r++) {
    if (native) {
      let t = performance.now();
      native.streamCopy(b, a);
      nativeCopy = Math.min(nativeCopy, performance.now() - t);
      t = performance.now();
      native.streamTriad(a, b, c, 0.5 + r);
      nativeTriad = Math.min(nativeTriad, performance.now() - t);
      t = performance.now();
      native.streamUpdate(a, c, 1 / (r + 2));
      nativeUpdate = Math.min(nativeUpdate, performance.now() - t);
    }
    let t0 = performance.now();
    copyLoop(a, b);
    copy = Math.min(copy, performance.now() - t0);
    t0 = performance.now();
    triadLoop(a, b, c, 0.5 + r);
    triad = Math.min(triad, performance.now() - t0);
    t0 = performance.now();
    a.set(c);
    set = Math.min(set, performance.now() - t0);
  }
  if (!Number.isFinite(a[n - 1]!)) throw new Error('bandwidth loop produced a non-finite value');
  return {
    copyGBps: (8 * n) / copy / 1e6,
    triadGBps: (12 * n) / triad / 1e6,
    setGBps: (8 * n) / set / 1e6,
    nativeCopyGBps: native ? (8 * n) / nativeCopy / 1e6 : null,
    nativeTriadGBps: native ? (12 * n) / nativeTriad / 1e6 : null,
    nativeUpdateGBps: native ? (12 * n) / nativeUpdate / 1e6 : null,
    nativeThreads: native ? native.threads() : null,
  };
}

// ---------------------------------------------------------------- optimizer step

/** Bytes per parameter: s = 0 reads g, θ, m, v and writes θ, m, v. */
const BYTES_S0 = 28;
/**
 * s = 1: the update reads g, θ, m, v and writes θ, m, v and the next step's θ̂ (32 bytes); the
 * prediction and the restore only exchange buffers. The least any s = 1 path must move: θ̂ has to
 * be written somewhere.
 */
const BYTES_S1 = 32;

/** An optimizer whose step is timed: how to make it, and the bytes per parameter of one pass. */
interface StepOptimizer {
  /** The rows' `optimizer` (torch_bench.py names its rows alike). */
  key: string;
  name: OptimizerName;
  /** Settings (torch_bench.py's step_optimizers() uses the same). */
  options: Record<string, unknown>;
  /** Bytes per parameter read and written by one pass, at s = 0 and at s = 1. */
  bytes: [number, number];
}

const ADAMW_STEP: StepOptimizer = {
  key: 'adamw',
  name: 'adamw',
  options: { learningRate: 1e-3, weightDecay: 1e-2 },
  bytes: [BYTES_S0, BYTES_S1],
};
/**
 * The other optimizers with fused loops, timed on wasm with the best path there (issue 16: every
 * fused step against PyTorch's). Bytes: SGD with momentum and Lion read g, θ and one slot and
 * write θ and the slot (20), plus θ̂ at s = 1; RMSprop the same at s = 0, and at s = 1 also
 * writes the last gradient kept for prediction; AdaBelief and NAdam move what AdamW moves.
 */
const OTHER_STEPS: StepOptimizer[] = [
  {
    key: 'sgd-momentum',
    name: 'sgd',
    options: { learningRate: 1e-3, momentum: 0.9, weightDecay: 1e-2 },
    bytes: [20, 24],
  },
  {
    key: 'rmsprop',
    name: 'rmsprop',
    options: { learningRate: 1e-3, weightDecay: 1e-2 },
    bytes: [20, 28],
  },
  {
    key: 'adabelief',
    name: 'adabelief',
    options: { learningRate: 1e-3, weightDecay: 1e-2 },
    bytes: [28, 32],
  },
  {
    key: 'nadam',
    name: 'nadam',
    options: { learningRate: 1e-3, weightDecay: 1e-2 },
    bytes: [28, 32],
  },
  {
    key: 'lion',
    name: 'lion',
    options: { learningRate: 1e-4, weightDecay: 1e-2 },
    bytes: [20, 24],
  },
];

const TENSOR_SIDE = 512;
/** Optimizer-step timing: at most this many steps, or as many as fit the budget (torch_bench.py too). */
const STEP_REPS = 200;
const STEP_BUDGET_MS = 3000;

async function benchOptimizerStep(
  backend: Backend,
  params: number,
  path: Path,
  s: number,
  quick: boolean,
  stepOptimizer: StepOptimizer = ADAMW_STEP,
): Promise<OptimizerStepRow> {
  const tensors = Math.round(params / (TENSOR_SIDE * TENSOR_SIDE));
  const n = tensors * TENSOR_SIDE * TENSOR_SIDE;
  const vars = Array.from({ length: tensors }, (_, i) =>
    tf.variable(tf.randomNormal([TENSOR_SIDE, TENSOR_SIDE], 0, 0.1, 'float32', i), true, `b${i}`),
  );
  const grads: tf.NamedTensorMap = Object.fromEntries(
    vars.map((v, i) => [
      v.name,
      tf.randomNormal([TENSOR_SIDE, TENSOR_SIDE], 0, 1, 'float32', 1000 + i),
    ]),
  );
  // A loss whose gradient is the precomputed `grads` (clones share their buffers: no copy), so
  // that minimize − gradient is the optimizer's own work (predict, restore, update).
  const precomputed = tf.customGrad(() => ({
    value: tf.scalar(0),
    gradFunc: () => vars.map((v) => grads[v.name]!.clone()),
  }));
  const loss = () => precomputed(...vars) as tf.Scalar;
  const optimizer = createOptimizer(stepOptimizer.name, {
    ...stepOptimizer.options,
    predictionSteps: s,
  });
  optimizer.kernel = (path === 'tfjs' ? 'tfjs' : 'fused') satisfies OptimizerKernel;
  setNativeKernelsEnabled(path === 'fused-native');
  setSimdStepsEnabled(path === 'fused-simd');
  // Sub-millisecond steps need many repetitions for a stable median; slow paths stop at the budget.
  const reps = quick ? 3 : STEP_REPS;
  const budget = quick ? 2000 : STEP_BUDGET_MS;
  const [bytesS0, bytesS1] = stepOptimizer.bytes;
  const row: OptimizerStepRow = {
    optimizer: stepOptimizer.key,
    predictionSteps: s,
    params: n,
    path,
    backend,
    msPerStep: null,
    gbPerSecond: null,
  };
  try {
    if (s === 0) {
      const times = await timeRepeated(() => optimizer.applyGradients(grads), 2, reps, budget);
      row.msPerStep = median(times);
      row.gbPerSecond = (bytesS0 * n) / row.msPerStep / 1e6;
    } else {
      const gradTimes = await timeRepeated(
        () => {
          const { value, grads: g } = tf.variableGrads(loss, vars);
          value.dispose();
          tf.dispose(g);
        },
        1,
        reps,
        budget,
      );
      const minTimes = await timeRepeated(
        () => void optimizer.minimize(loss, false, vars),
        2,
        reps,
        budget,
      );
      row.gradientMs = median(gradTimes);
      row.minimizeMs = median(minTimes);
      const step = row.minimizeMs - row.gradientMs;
      // A difference of two medians is only meaningful when the step is not lost in the
      // gradient's own spread.
      if (step > 0 && row.gradientMs < 3 * step) {
        row.msPerStep = step;
        row.gbPerSecond = (bytesS1 * n) / step / 1e6;
      } else {
        row.note = `not resolved: the loss's gradient (${row.gradientMs.toFixed(1)} ms) dwarfs the step`;
      }
    }
  } finally {
    optimizer.dispose();
    tf.dispose([...vars, ...Object.values(grads)]);
    setNativeKernelsEnabled(true);
    setSimdStepsEnabled(true);
  }
  return row;
}

// ---------------------------------------------------------------- training throughput

interface TrainingCase {
  name: string;
  unit: 'samples' | 'tokens';
  /** PyTorch's model (bench/torch_bench.py) is built to the same parameter count: checked. */
  sameParametersAsTorch?: boolean;
  /** Builds the model and one fixed random batch; returns the loss closure and what to dispose. */
  setup(): {
    variables: tf.Variable[];
    loss: () => tf.Scalar;
    size: number;
    dispose(): void;
  };
}

function randomLabels(n: number, classes: number, seed: number): tf.Tensor1D {
  return tf.tidy(
    () => tf.randomUniform([n], 0, classes, 'float32', seed).floor().toInt() as tf.Tensor1D,
  );
}

function classifierCase(
  name: string,
  build: () => tf.LayersModel,
  inputShape: number[],
  batch: number,
): TrainingCase {
  return {
    name,
    unit: 'samples',
    setup() {
      const model = build();
      const x = tf.randomNormal([batch, ...inputShape], 0, 1, 'float32', 7);
      const y = randomLabels(batch, 10, 8);
      return {
        variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
        loss: () => classificationLoss(model.apply(x, { training: true }) as tf.Tensor, y, 10),
        size: batch,
        dispose() {
          tf.dispose([x, y]);
          model.dispose();
        },
      };
    },
  };
}

const VOCAB = 10_000;
const BPTT = 35;
const LM_BATCH = 20;

/** A language model on one fixed random window: logits from `tokens`, loss against `targets`. */
function languageModelCase(
  name: string,
  build: () => SequenceLanguageModel,
  batch: number,
  steps: number,
  sameParametersAsTorch = false,
): TrainingCase {
  return {
    name,
    unit: 'tokens',
    sameParametersAsTorch,
    setup() {
      const lm = build();
      const x = tf.tidy(() =>
        tf.randomUniform([batch, steps], 0, lm.vocabSize, 'float32', 9).floor().toInt(),
      );
      const y = tf.tidy(() =>
        tf.randomUniform([batch, steps], 0, lm.vocabSize, 'float32', 10).floor().toInt(),
      );
      const state = lm.zeroState(batch);
      return {
        variables: lm.model.trainableWeights.map((w) => w.read() as tf.Variable),
        loss: () => {
          const out = lm.model.apply(state.length === 0 ? x : [x, ...state], { training: true });
          const logits = Array.isArray(out) ? out[0]! : out;
          return languageModelLoss(logits as tf.Tensor, y, lm.vocabSize);
        },
        size: batch * steps,
        dispose() {
          tf.dispose([x, y, ...state]);
          lm.model.dispose();
        },
      };
    },
  };
}

/** The Transformer row's model: bench/torch_gpt.py's Gpt() has the same shape. */
const GPT = { layers: 4, width: 128, heads: 4, contextLength: 128 };
const GPT_BATCH = 8;

const TRAINING_CASES: TrainingCase[] = [
  classifierCase(
    'MLP 784-256-256-10, batch 128',
    () => buildMlp({ inputShape: [784], numClasses: 10, seed: 1 }),
    [784],
    128,
  ),
  classifierCase(
    'VGG CNN (default: 3 blocks × 2 conv), 32×32×3, batch 64',
    () => buildVggCnn({ inputShape: [32, 32, 3], numClasses: 10, seed: 1 }),
    [32, 32, 3],
    64,
  ),
  classifierCase(
    'ResNet-8, 28×28×1, batch 64',
    () => buildResNet({ inputShape: [28, 28, 1], numClasses: 10, depth: 8, seed: 1 }),
    [28, 28, 1],
    64,
  ),
  languageModelCase(
    `LSTM LM, vocab 10k, 128 units, 1 layer, bptt ${BPTT}, batch ${LM_BATCH}`,
    () =>
      buildLstmLanguageModel({
        vocabSize: VOCAB,
        embeddingSize: 128,
        hiddenSize: 128,
        layers: 1,
        dropout: 0,
        tieWeights: false,
        seed: 1,
      }),
    LM_BATCH,
    BPTT,
  ),
  languageModelCase(
    `Transformer LM (GPT, ${GPT.layers} blocks × ${GPT.width}, ${GPT.heads} heads), vocab 10k, context ${GPT.contextLength}, batch ${GPT_BATCH}`,
    () => buildTransformerLanguageModel({ ...GPT, vocabSize: VOCAB, dropout: 0, seed: 1 }),
    GPT_BATCH,
    GPT.contextLength,
    true,
  ),
];

/**
 * Steps with AdamW (s = 0) and AdamW with prediction (s = 1), alternating one step of each, so
 * that drift on a shared machine hits both alike and the s=1 / s=0 ratio is paired. Each
 * optimizer trains its own copy of the model (same seed), as in a real run: sharing one model
 * would make every s = 1 step follow a foreign update, which costs it the θ̂ its own update
 * prepared.
 */
async function benchTraining(
  c: TrainingCase,
  backend: TrainingBackend,
  quick: boolean,
): Promise<TrainingRow[]> {
  const setups = [c.setup(), c.setup()];
  const setup = setups[0]!;
  const parameters = setup.variables.reduce((n, v) => n + v.size, 0);
  const optimizers = [0, 1].map(
    (s) => new AdamW({ learningRate: 1e-3, weightDecay: 1e-2, predictionSteps: s }),
  );
  const step = async (k: number): Promise<number> => {
    const t0 = performance.now();
    const { loss, variables } = setups[k]!;
    const cost = optimizers[k]!.minimize(loss, true, variables)!;
    await cost.data(); // the step is finished when its loss can be read
    cost.dispose();
    return performance.now() - t0;
  };
  try {
    for (let w = 0; w < 2; w++) for (const k of [0, 1]) await step(k);
    const times: number[][] = [[], []];
    // Fast models get many steps for a stable median (at 200 the MLP's s=1/s=0 ratio still
    // moved by ±2% from run to run), slow ones as many as fit the budget but at least
    // `minPairs` (seconds-long steps on plain wasm gave ratios ±10% apart with 3–5 pairs).
    const reps = quick ? 3 : 2000;
    const budget = quick ? 4000 : 10000;
    const minPairs = quick ? 3 : 15;
    const start = performance.now();
    for (let r = 0; r < reps; r++) {
      for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) times[k]!.push(await step(k));
      if (r + 1 >= minPairs && performance.now() - start > budget) break;
    }
    const paired = median(times[1]!.map((t, r) => t / times[0]![r]!));
    return [0, 1].map((s) => {
      const ms = median(times[s]!);
      return {
        model: c.name,
        backend,
        optimizer: 'adamw',
        predictionSteps: s,
        samplesPerSecond: (setup.size * 1000) / ms,
        unit: c.unit,
        msPerStep: ms,
        steps: times[s]!.length,
        parameters,
        ...(s === 1 && { pairedTimeRatio: paired }),
      };
    });
  } finally {
    for (const o of optimizers) o.dispose();
    for (const x of setups) x.dispose();
  }
}

// ---------------------------------------------------------------- PyTorch

type TorchTrainingRow = Omit<TrainingRow, 'backend' | 'steps'> & {
  backend: 'torch';
  /** The thread configuration this row was measured with (the fastest one for this model). */
  config: string;
};

interface TorchResult {
  torchVersion: string;
  blas: string[];
  malloc: string;
  /** Every configuration tried; each row below is the fastest of them. */
  configs: string[];
  optimizerStep: (OptimizerStepRow & { config: string })[];
  training: TorchTrainingRow[];
}

/**
 * Thread settings PyTorch is measured with: its intra-op threads × OpenBLAS's own threads. With
 * both at 2 the two pools oversubscribe 2 cores (the MLP ran 2–10× slower than with either at 1).
 */
const TORCH_CONFIGS = [
  { torchThreads: 2, blasThreads: 2 },
  { torchThreads: 2, blasThreads: 1 },
  { torchThreads: 1, blasThreads: 2 },
  { torchThreads: 1, blasThreads: 1 },
];

const PYTHON = '/usr/bin/python3';
/** glibc malloc tuned as in PERF-NOTES: PyTorch trains 2.6–4× faster here and times steadily. */
const TORCH_ENV = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736' };

/** Whether /usr/bin/python3 has torch (if not, the reason is logged and no PyTorch row is run). */
function torchAvailable(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) log(`bench: no PyTorch rows: ${PYTHON} -c "import torch" failed`);
  return probe.status === 0;
}

/**
 * Runs bench/torch_bench.py with `args` (`--steps-only`, or `--model NAME` for one training row)
 * once per thread configuration, and keeps the fastest measurement of each row (with its
 * configuration); null (with the reason logged) if every run failed.
 */
function runTorch(quick: boolean, args: string[]): TorchResult | null {
  const script = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
  let best: TorchResult | null = null;
  const configs: string[] = [];
  for (const { torchThreads, blasThreads } of TORCH_CONFIGS) {
    const config = `torch.set_num_threads(${torchThreads}), OPENBLAS_NUM_THREADS=${blasThreads}`;
    const run = spawnSync(
      PYTHON,
      [script, '--threads', String(torchThreads), ...(quick ? ['--quick'] : []), ...args],
      {
        encoding: 'utf8',
        env: { ...process.env, ...TORCH_ENV, OPENBLAS_NUM_THREADS: String(blasThreads) },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    if (run.status !== 0) {
      log(
        `bench: torch_bench.py (${config}) failed (exit ${run.status}): ${run.stderr.slice(-2000)}`,
      );
      continue;
    }
    configs.push(config);
    const parsed = JSON.parse(run.stdout) as {
      torchVersion: string;
      blas: string[];
      optimizerStep: OptimizerStepRow[];
      training: Omit<TorchTrainingRow, 'config'>[];
    };
    for (const r of parsed.training) {
      log(`bench: torch ${r.model} (${config}): ${fmt(r.samplesPerSecond)} ${r.unit}/s`);
    }
    const steps = parsed.optimizerStep.map((r) => ({ ...r, config }));
    const training = parsed.training.map((r) => ({ ...r, config }));
    if (best === null) {
      best = {
        torchVersion: parsed.torchVersion,
        blas: parsed.blas,
        malloc: Object.entries(TORCH_ENV)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        configs,
        optimizerStep: steps,
        training,
      };
      continue;
    }
    best.optimizerStep = best.optimizerStep.map((r, k) =>
      steps[k]!.msPerStep! < r.msPerStep! ? steps[k]! : r,
    );
    best.training = best.training.map((r, k) =>
      training[k]!.samplesPerSecond > r.samplesPerSecond ? training[k]! : r,
    );
  }
  return best;
}

// ---------------------------------------------------------------- report

function machineLine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return (
    `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, ` +
    `Node ${process.version}, tfjs ${tf.version.tfjs}; load average at start ${load}`
  );
}

/** The highest rate measured: the reference the optimizer step's GB/s is compared against. */
function peakBandwidth(bw: Bandwidth): number {
  return Math.max(
    bw.copyGBps,
    bw.triadGBps,
    bw.setGBps,
    bw.nativeCopyGBps ?? 0,
    bw.nativeTriadGBps ?? 0,
    bw.nativeUpdateGBps ?? 0,
  );
}

function fmt(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '—' : x.toFixed(digits);
}

function table(
  machine: string,
  bw: Bandwidth,
  steps: OptimizerStepRow[],
  training: TrainingRow[],
  torch: TorchResult | null,
): string {
  const out: string[] = [];
  out.push(`Machine: ${machine}`, '');
  out.push(
    `Memory bandwidth (64 MiB arrays, best of runs): JS copy loop ${fmt(bw.copyGBps)} GB/s, ` +
      `JS triad loop ${fmt(bw.triadGBps)} GB/s, TypedArray.set ${fmt(bw.setGBps)} GB/s` +
      (bw.nativeThreads === null
        ? ''
        : `, native copy ${fmt(bw.nativeCopyGBps)} GB/s, triad ${fmt(bw.nativeTriadGBps)} GB/s ` +
          `and in-place update ${fmt(bw.nativeUpdateGBps)} GB/s on ${bw.nativeThreads} threads`) +
      ` (% of bandwidth below is against the highest)`,
    '',
  );
  const peak = peakBandwidth(bw);
  out.push('Optimizer step, 512×512 tensors');
  out.push(
    `(s=0: applyGradients; s=1: minimize minus the loss's own gradient time; B/param for GB/s: ` +
      [ADAMW_STEP, ...OTHER_STEPS]
        .map((o) => `${o.key} ${o.bytes[0]} at s=0, ${o.bytes[1]} at s=1`)
        .join('; ') +
      ')',
  );
  out.push('| optimizer | backend | params | s | path | ms/step | GB/s | % of bandwidth | note |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of steps) {
    const pct = r.gbPerSecond === null ? null : (100 * r.gbPerSecond) / peak;
    const extra =
      r.predictionSteps === 1 && r.minimizeMs !== undefined
        ? `minimize ${fmt(r.minimizeMs)} ms − gradient ${fmt(r.gradientMs)} ms`
        : '';
    out.push(
      `| ${r.optimizer} | ${r.backend} | ${(r.params / 1e6).toFixed(1)}M | ${r.predictionSteps} | ${r.path} | ` +
        `${fmt(r.msPerStep, 2)} | ${fmt(r.gbPerSecond)} | ${fmt(pct, 0)} | ${[r.note, extra].filter(Boolean).join('; ')} |`,
    );
  }
  out.push('');
  out.push('Training throughput, AdamW (lr 1e-3, λ 1e-2), fixed random batch');
  out.push(
    '| model | backend | s=0 /s | s=1 /s | unit | s=1 / s=0 time (of medians) | (median of pairs) |',
  );
  out.push('|---|---|---|---|---|---|---|');
  for (const r0 of training.filter((r) => r.predictionSteps === 0)) {
    const r1 = training.find(
      (r) => r.predictionSteps === 1 && r.model === r0.model && r.backend === r0.backend,
    );
    out.push(
      `| ${r0.model} | ${r0.backend} | ${fmt(r0.samplesPerSecond)} | ${fmt(r1?.samplesPerSecond)} | ` +
        `${r0.unit} | ${r1 ? (r1.msPerStep / r0.msPerStep).toFixed(3) : '—'} | ` +
        `${r1?.pairedTimeRatio === undefined ? '—' : r1.pairedTimeRatio.toFixed(3)} |`,
    );
  }
  if (torch) {
    out.push('');
    out.push(
      `PyTorch ${torch.torchVersion}, BLAS ${torch.blas.join(' ') || 'unknown'}, ${torch.malloc}; ` +
        `each torch figure is the fastest of: ${torch.configs.join('; ')} (the one used is named)`,
    );
    out.push('| what | torch | best TF.js | TF.js / torch (speed) |');
    out.push('|---|---|---|---|');
    for (const r of torch.optimizerStep) {
      // Ours at s = 0 and, the issue's bar, ours with prediction (s = 1) against torch's plain step.
      for (const s of [0, 1]) {
        const ours = steps
          .filter(
            (x) =>
              x.optimizer === r.optimizer &&
              x.params === r.params &&
              x.predictionSteps === s &&
              x.msPerStep !== null,
          )
          .sort((a, b) => a.msPerStep! - b.msPerStep!)[0];
        out.push(
          `| ${r.optimizer} step ${(r.params / 1e6).toFixed(1)}M: ${r.path} s=0, ours s=${s} | ${fmt(r.msPerStep, 2)} ms (${r.config}) | ` +
            `${ours ? `${fmt(ours.msPerStep, 2)} ms (${ours.backend} ${ours.path})` : '—'} | ` +
            `${ours ? (r.msPerStep! / ours.msPerStep!).toFixed(2) : '—'} |`,
        );
      }
    }
    for (const r of torch.training) {
      // Against the default backend (wasm with the addon when it is built), then what a browser
      // gets (plain wasm), both at s = 0 and s = 1.
      for (const backend of ['wasm+native', 'wasm'] as const) {
        for (const s of [0, 1]) {
          const ours = training.find(
            (x) => x.model === r.model && x.predictionSteps === s && x.backend === backend,
          );
          if (!ours) continue;
          out.push(
            `| ${r.model}: torch s=0, ours ${backend} s=${s} | ${fmt(r.samplesPerSecond)} ${r.unit}/s (${r.config}) | ` +
              `${fmt(ours.samplesPerSecond)} (${backend}) | ` +
              `${(ours.samplesPerSecond / r.samplesPerSecond).toFixed(3)} |`,
          );
        }
      }
    }
    out.push('');
    out.push('Trainable parameters, TF.js / PyTorch (equal where the model is built to match)');
    for (const r of torch.training) {
      const ours = training.find((x) => x.model === r.model);
      out.push(`- ${r.model}: ${ours?.parameters ?? '—'} / ${r.parameters}`);
    }
  }
  return out.join('\n');
}

/**
 * The models built to match PyTorch's (the Transformer) must have its parameter count exactly: a
 * throughput ratio between different models would be meaningless.
 */
function checkSameParameters(training: TrainingRow[], torch: TorchResult): void {
  for (const c of TRAINING_CASES.filter((x) => x.sameParametersAsTorch)) {
    const ours = training.find((r) => r.model === c.name)?.parameters;
    const theirs = torch.training.find((r) => r.model === c.name)?.parameters;
    log(`bench: ${c.name}: ${ours} parameters in TF.js, ${theirs} in PyTorch`);
    if (ours === undefined || theirs === undefined || ours !== theirs) {
      throw new Error(
        `bench: ${c.name} has ${ours} parameters in TF.js but ${theirs} in PyTorch: ` +
          'bench/torch_gpt.py and src/models/transformer.ts no longer build the same model',
      );
    }
  }
}

/** benchTraining, its rows logged as they come. */
async function benchTrainingLogged(
  c: TrainingCase,
  backend: TrainingBackend,
  quick: boolean,
): Promise<TrainingRow[]> {
  const rows = await benchTraining(c, backend, quick);
  for (const r of rows) {
    log(
      `bench: train ${r.model} ${backend} s=${r.predictionSteps}: ${fmt(r.samplesPerSecond)} ${r.unit}/s`,
    );
  }
  return rows;
}

/** Every training case on wasm, with the addon's kernels when it is loaded. */
async function benchAllTraining(quick: boolean): Promise<TrainingRow[]> {
  await selectBackend('wasm');
  const backend: TrainingBackend = nativeKernels() ? 'wasm+native' : 'wasm';
  const training: TrainingRow[] = [];
  for (const c of TRAINING_CASES) training.push(...(await benchTrainingLogged(c, backend, quick)));
  return training;
}

/**
 * The training rows of wasm without the addon, from a child process started with the addon off
 * (kernels are registered once, when the backend starts); [] if it fails.
 */
function trainingWithoutAddon(quick: boolean): TrainingRow[] {
  const args = [...process.execArgv, process.argv[1]!, '--training-only'];
  if (quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, [NATIVE_ENV]: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.status !== 0) {
    log(`bench: the run without the native addon failed (exit ${run.status})`);
    return [];
  }
  return (JSON.parse(run.stdout) as { training: TrainingRow[] }).training;
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  if (settings.trainingOnly) {
    const training = await benchAllTraining(settings.quick);
    process.stdout.write(`${JSON.stringify({ training })}\n`);
    return;
  }
  const machine = machineLine();
  log(`bench: ${machine}`);
  const native = nativeKernels();
  const bw = measureBandwidth(settings.quick);
  log(
    `bench: bandwidth copy ${fmt(bw.copyGBps)}, triad ${fmt(bw.triadGBps)}, set ${fmt(bw.setGBps)} GB/s` +
      (native
        ? `; native copy ${fmt(bw.nativeCopyGBps)}, triad ${fmt(bw.nativeTriadGBps)}, ` +
          `update ${fmt(bw.nativeUpdateGBps)} GB/s`
        : ''),
  );

  const steps: OptimizerStepRow[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await selectBackend(backend);
    // The SIMD loops run on the wasm backend's heap only.
    const paths: Path[] = [
      'tfjs',
      'fused-js',
      ...(backend === 'wasm' && simdSteps() ? (['fused-simd'] as const) : []),
      ...(native ? (['fused-native'] as const) : []),
    ];
    for (const params of [1_048_576, 10_485_760]) {
      for (const path of paths) {
        for (const s of [0, 1]) {
          // tf ops on cpu take ~0.2 s per 1M parameters: at 10M a step is seconds, so skip it.
          if (backend === 'cpu' && path === 'tfjs' && params > 2e6) {
            const small = steps.find(
              (r) => r.backend === 'cpu' && r.path === 'tfjs' && r.predictionSteps === s,
            );
            const projected = small?.msPerStep ? (small.msPerStep * params) / small.params : null;
            if (projected === null || projected > 1500) {
              steps.push({
                optimizer: 'adamw',
                predictionSteps: s,
                params,
                path,
                backend,
                msPerStep: null,
                gbPerSecond: null,
                note: `skipped: 1M took ${fmt(small?.msPerStep)} ms, so ~${fmt(projected, 0)} ms per step at 10M`,
              });
              continue;
            }
          }
          const row = await benchOptimizerStep(backend, params, path, s, settings.quick);
          log(
            `bench: step ${backend} ${params} s=${s} ${path}: ${fmt(row.msPerStep, 2)} ms, ${fmt(row.gbPerSecond)} GB/s`,
          );
          steps.push(row);
        }
      }
    }
  }

  // The other optimizers: on wasm (the default backend), the addon's loops when it is built.
  await selectBackend('wasm');
  const otherPath: Path = native ? 'fused-native' : 'fused-js';
  for (const stepOptimizer of OTHER_STEPS) {
    for (const params of [1_048_576, 10_485_760]) {
      for (const s of [0, 1]) {
        const row = await benchOptimizerStep(
          'wasm',
          params,
          otherPath,
          s,
          settings.quick,
          stepOptimizer,
        );
        log(
          `bench: step ${stepOptimizer.key} wasm ${params} s=${s} ${otherPath}: ${fmt(row.msPerStep, 2)} ms, ${fmt(row.gbPerSecond)} GB/s`,
        );
        steps.push(row);
      }
    }
  }

  const haveTorch = torchAvailable();
  const torchSteps = haveTorch ? runTorch(settings.quick, ['--steps-only']) : null;
  const training: TrainingRow[] = [];
  const torchTraining: TorchTrainingRow[] = [];
  if (!settings.stepsOnly) {
    await selectBackend('wasm');
    const backend: TrainingBackend = native ? 'wasm+native' : 'wasm';
    for (const c of TRAINING_CASES) {
      // Ours, PyTorch's, ours again: see the header.
      const ours = () => benchTrainingLogged(c, backend, settings.quick);
      const measured = [await ours()];
      const theirs = haveTorch ? runTorch(settings.quick, ['--model', c.name]) : null;
      if (theirs) {
        torchTraining.push(...theirs.training);
        measured.push(await ours());
      }
      const rate = (rows: TrainingRow[]) =>
        rows.find((r) => r.predictionSteps === 1)!.samplesPerSecond;
      training.push(...measured.reduce((best, rows) => (rate(rows) > rate(best) ? rows : best)));
    }
    if (native) training.push(...trainingWithoutAddon(settings.quick));
  }

  const torch = torchSteps && { ...torchSteps, training: torchTraining };
  if (torch && !settings.stepsOnly) checkSameParameters(training, torch);
  const text = table(machine, bw, steps, training, torch);
  if (settings.json) {
    const result = {
      machine,
      memoryBandwidthGBps: peakBandwidth(bw),
      memoryBandwidth: {
        ...bw,
        method:
          'best of runs over 64 MiB Float32Arrays: JS copy and triad loops, TypedArray.set copy, ' +
          'and copy, triad and in-place update (a += s·b) in the native addon on all its threads; ' +
          'memoryBandwidthGBps is the highest of these',
      },
      bytesPerParam: Object.fromEntries(
        [ADAMW_STEP, ...OTHER_STEPS].map((o) => [
          o.key,
          { predictionSteps0: o.bytes[0], predictionSteps1: o.bytes[1] },
        ]),
      ),
      nativeAddon: native ? { threads: native.threads() } : null,
      training,
      optimizerStep: steps,
      ...(torch ? { torch } : {}),
    };
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof UserInputError) {
    log(`bench: ${error.message}`);
    process.exit(2);
  }
  throw error;
});
