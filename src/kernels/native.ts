/**
 * The optional native addon (build/Release/weight_prediction.node, built by `npm install` /
 * `npm ci` with node-gyp against OpenBLAS). It runs the fused optimizer loops and the matmul and
 * convolution kernels in C++ on all cores, directly on the cpu backend's arrays or the wasm heap.
 * When it is absent (no compiler, no OpenBLAS, install scripts not run) or disabled with
 * WEIGHT_PREDICTION_NATIVE=0, everything falls back to the JS loops and the wasm kernels.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions; every array is a Float32Array (see native/addon.cc). */
export interface NativeKernels {
  /**
   * One Adam step in place; with `predicted` non-null it also writes θ̂ of the next step there,
   * from the new θ, m and v (what `adamPredict` would write from them).
   */
  adamUpdate(
    theta: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    vMax: Float32Array | null,
    gradScale: number,
    l2: number,
    beta1: number,
    beta2: number,
    keep: number,
    stepSize: number,
    invSqrtBc2: number,
    epsilon: number,
    predicted: Float32Array | null,
    a: number,
    predictScale: number,
    predictInvSqrtBc2: number,
  ): void;
  /** predicted = a·θ − scale·m/(√v·invSqrtBc2 + ε); θ, m and v are only read. */
  adamPredict(
    theta: Float32Array,
    predicted: Float32Array,
    m: Float32Array,
    v: Float32Array,
    a: number,
    scale: number,
    invSqrtBc2: number,
    epsilon: number,
  ): void;
  /** Σx² in float64, the same for any number of threads. */
  sumOfSquares(x: Float32Array): number;
  /** Dims: batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft. */
  conv2dForward(x: Float32Array, w: Float32Array, y: Float32Array, ...dims: number[]): void;
  conv2dBackpropFilter(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    ...dims: number[]
  ): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, ...dims: number[]): void;
  matMul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
  /** y[r, c] = act(y[r, c] + bias[c]) with act 0 = linear, 1 = relu. */
  biasActivation(
    y: Float32Array,
    bias: Float32Array | null,
    rows: number,
    cols: number,
    activation: number,
  ): void;
  batchNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    rows: number,
    channels: number,
    epsilon: number,
  ): void;
  batchNormBackward(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    channels: number,
    epsilon: number,
  ): void;
  /** Mean over rows of logsumexp(logits[r]) − logits[r, label]; each row's logsumexp into lse. */
  sparseSoftmaxCrossEntropy(
    logits: Float32Array,
    labels: Int32Array,
    lse: Float32Array,
    rows: number,
    classes: number,
  ): number;
  /** grad = scale·(softmax(logits) − onehot(labels)), from the forward's lse. */
  sparseSoftmaxCrossEntropyGrad(
    logits: Float32Array,
    labels: Int32Array,
    lse: Float32Array,
    grad: Float32Array,
    rows: number,
    classes: number,
    scale: number,
  ): void;
  /** dx = dy · step(x): relu's gradient (step is 1 for x > 0, NaN for NaN, else 0). */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /**
   * Max-pool gradient, NHWC: each dy cell goes to the first maximum of its window.
   * Dims: batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW, padTop, padLeft.
   */
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, ...dims: number[]): void;
  /** out[c] = scale · Σ_r x[r, c] over a row-major [rows, cols] array, in float64. */
  columnSums(x: Float32Array, out: Float32Array, rows: number, cols: number, scale: number): void;
  /** b = a on all threads (bandwidth reference for the bench). */
  streamCopy(a: Float32Array, b: Float32Array): void;
  /** a = b + s·c on all threads. */
  streamTriad(a: Float32Array, b: Float32Array, c: Float32Array, s: number): void;
  /** a += s·b in place on all threads (an optimizer step's access pattern). */
  streamUpdate(a: Float32Array, b: Float32Array, s: number): void;
  /** The threads the addon's kernels use, the caller's included (OpenBLAS runs inside them). */
  threads(): number;
  /** Uses n threads (clamped to the cores) from now on; returns the count in effect. */
  setThreads(n: number): number;
}

/** The environment variable that switches the addon off (`0`, `false` or `off`). */
export const NATIVE_ENV = 'WEIGHT_PREDICTION_NATIVE';

let loaded: { kernels: NativeKernels | null; error: string | null } | undefined;
let enabled = !['0', 'false', 'off'].includes((process.env[NATIVE_ENV] ?? '').toLowerCase());

/** The package root: this file is src/kernels/native.ts or dist/kernels/native.js. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function load(): { kernels: NativeKernels | null; error: string | null } {
  const file = join(packageRoot(), 'build', 'Release', 'weight_prediction.node');
  if (!existsSync(file)) return { kernels: null, error: `${file} is not built` };
  try {
    return { kernels: createRequire(import.meta.url)(file) as NativeKernels, error: null };
  } catch (e) {
    return { kernels: null, error: `${file} failed to load: ${(e as Error).message}` };
  }
}

/** The addon when it is built, loads and is enabled; else null. */
export function nativeKernels(): NativeKernels | null {
  if (!enabled) return null;
  loaded ??= load();
  return loaded.kernels;
}

/** Why the addon is not in use (for logs), or null when it is. */
export function nativeUnavailableReason(): string | null {
  if (!enabled) return `disabled (${NATIVE_ENV}=0 or setNativeKernelsEnabled(false))`;
  loaded ??= load();
  return loaded.error;
}

/**
 * Switches the addon on or off for the optimizer loops from now on (benchmarks and tests compare
 * both paths). Kernels already registered on a backend keep the choice made at registration.
 */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}
