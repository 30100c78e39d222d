/**
 * The accelerator registry: the one door through which core code (optimizer steps, wasm kernels,
 * model ops) reaches native loops. The core never imports the native addon; a Node entry
 * registers a provider for it (src/kernels/native.ts), as TF.js registers backends. In a browser
 * nothing is registered and every caller falls back to its JS or wasm kernels.
 */

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
  /**
   * One SGD step in place (src/kernels/fused/sgd.ts, bit for bit): `slot` is the momentum buffer
   * (needed when momentum ≠ 0) or the last gradient kept for prediction; with `predicted` non-null
   * it also writes θ̂ = a·θ − b·slot of the next step there.
   */
  sgdUpdate(
    theta: Float32Array,
    grad: Float32Array,
    slot: Float32Array | null,
    predicted: Float32Array | null,
    gradScale: number,
    l2: number,
    learningRate: number,
    momentum: number,
    dampening: number,
    nesterov: boolean,
    firstStep: boolean,
    a: number,
    b: number,
  ): void;
  /** predicted = a·θ − b·direction; θ and direction are only read. */
  linearPredict(
    theta: Float32Array,
    predicted: Float32Array,
    direction: Float32Array,
    a: number,
    b: number,
  ): void;
  /** One RMSprop step in place (src/kernels/fused/rmsprop.ts, bit for bit), optionally θ̂ too. */
  rmspropUpdate(
    theta: Float32Array,
    grad: Float32Array,
    v: Float32Array,
    gradAverage: Float32Array | null,
    last: Float32Array | null,
    predicted: Float32Array | null,
    gradScale: number,
    l2: number,
    learningRate: number,
    alpha: number,
    epsilon: number,
    momentum: number,
    a: number,
    b: number,
  ): void;
  /** θ̂ = a·θ − b·Δθ, Δθ = last with momentum, else last/(√(v − ḡ²) + ε). */
  rmspropPredict(
    theta: Float32Array,
    predicted: Float32Array,
    v: Float32Array,
    gradAverage: Float32Array | null,
    last: Float32Array,
    momentum: boolean,
    epsilon: number,
    a: number,
    b: number,
  ): void;
  /** One AdaBelief step in place (src/kernels/fused/adabelief.ts, bit for bit), optionally θ̂. */
  adaBeliefUpdate(
    theta: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    s: Float32Array,
    sMax: Float32Array | null,
    predicted: Float32Array | null,
    gradScale: number,
    l2: number,
    keep: number,
    decoupled: boolean,
    beta1: number,
    beta2: number,
    epsilon: number,
    sqrtBc2: number,
    stepSize: number,
    a: number,
    b: number,
    predictSqrtBc2: number,
    predictBc1: number,
  ): void;
  /** θ̂ = a·θ − b·(m/(√s/sqrtBc2 + ε))/bc1; θ, m and s are only read. */
  adaBeliefPredict(
    theta: Float32Array,
    predicted: Float32Array,
    m: Float32Array,
    s: Float32Array,
    epsilon: number,
    a: number,
    b: number,
    sqrtBc2: number,
    bc1: number,
  ): void;
  /** One NAdam step in place (src/kernels/fused/nadam.ts, bit for bit), optionally θ̂ too. */
  nadamUpdate(
    theta: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    predicted: Float32Array | null,
    gradScale: number,
    l2: number,
    keep: number,
    beta1: number,
    beta2: number,
    bc2: number,
    epsilon: number,
    onGrad: number,
    onMomentum: number,
    a: number,
    predictScale: number,
    predictBc2: number,
  ): void;
  /** θ̂ = a·θ − scale·m/(√(v/bc2) + ε); θ, m and v are only read. */
  nadamPredict(
    theta: Float32Array,
    predicted: Float32Array,
    m: Float32Array,
    v: Float32Array,
    epsilon: number,
    a: number,
    scale: number,
    bc2: number,
  ): void;
  /** One Lion step in place (src/kernels/fused/lion.ts, bit for bit), optionally θ̂ too. */
  lionUpdate(
    theta: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    predicted: Float32Array | null,
    gradScale: number,
    keep: number,
    learningRate: number,
    beta1: number,
    beta2: number,
    a: number,
    b: number,
  ): void;
  /** θ̂ = a·θ − b·sign(m); θ and m are only read. */
  lionPredict(
    theta: Float32Array,
    predicted: Float32Array,
    m: Float32Array,
    a: number,
    b: number,
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
  /** y = GELU(x) = x/2·(1 + erf(x/√2)), src/kernels/gelu.ts's loop (TF.js's erf, in double). */
  gelu(x: Float32Array, y: Float32Array): void;
  /** dx = dy·(Φ(x) + x·φ(x)), src/kernels/gelu.ts's gradient loop. */
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** src/kernels/layer-norm.ts's forward loop: y, and each row's mean and rstd. */
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    epsilon: number,
  ): void;
  /** Its gradient loop: dx, dgamma, dbeta. */
  layerNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
  ): void;
  /** src/kernels/causal-softmax.ts's forward loop over `matrices` t × t matrices. */
  causalSoftmax(x: Float32Array, y: Float32Array, matrices: number, t: number, scale: number): void;
  /** Its gradient loop: dx from dy and the forward's y. */
  causalSoftmaxGrad(
    dy: Float32Array,
    y: Float32Array,
    dx: Float32Array,
    matrices: number,
    t: number,
    scale: number,
  ): void;
  /**
   * One LSTM layer's recurrence over all steps (native/lstm.h): from xproj [b, t, 4H] (x·W + bias,
   * gates i, f, g, o), h0, c0 [b, H] and u [H, 4H], writes out [b, t+1, H] (h_1 … h_t, c_t), the
   * activated gates [b, t, 4H] and the cells [b, t, H] that lstmBackward reads.
   */
  lstmForward(
    xproj: Float32Array,
    h0: Float32Array,
    c0: Float32Array,
    u: Float32Array,
    out: Float32Array,
    gates: Float32Array,
    cells: Float32Array,
    batch: number,
    steps: number,
    units: number,
  ): void;
  /** Its gradient: from dout [b, t+1, H], writes dxproj [b, t, 4H], dh0, dc0 [b, H], du [H, 4H]. */
  lstmBackward(
    dout: Float32Array,
    gates: Float32Array,
    cells: Float32Array,
    out: Float32Array,
    h0: Float32Array,
    c0: Float32Array,
    u: Float32Array,
    dxproj: Float32Array,
    dh0: Float32Array,
    dc0: Float32Array,
    du: Float32Array,
    batch: number,
    steps: number,
    units: number,
  ): void;
  /** y = max(0, x): NaN stays NaN, −0 becomes 0 (TF.js's Relu). */
  relu(x: Float32Array, y: Float32Array): void;
  /** dx = dy · step(x): relu's gradient (step is 1 for x > 0, NaN for NaN, else 0). */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** c = a + b, elementwise over arrays of one length. */
  add(a: Float32Array, b: Float32Array, c: Float32Array): void;
  /**
   * The option-A shortcut (src/kernels/shortcut.ts): y [b, ⌈h/s⌉, ⌈w/s⌉, filters] takes every s-th
   * pixel of x [b, h, w, c], its channels zero-padded to `filters`.
   */
  subsamplePad(
    x: Float32Array,
    y: Float32Array,
    batch: number,
    height: number,
    width: number,
    channels: number,
    stride: number,
    filters: number,
  ): void;
  /** Its gradient: dx [b, h, w, c] gets dy's first c channels at the sampled pixels, 0 elsewhere. */
  subsamplePadGrad(
    dy: Float32Array,
    dx: Float32Array,
    batch: number,
    height: number,
    width: number,
    channels: number,
    stride: number,
    filters: number,
  ): void;
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

/** What a provider reports: the kernels, or why there are none. */
export interface AcceleratorLoad {
  kernels: NativeKernels | null;
  error: string | null;
}

let provider: (() => AcceleratorLoad) | null = null;
let loaded: AcceleratorLoad | undefined;
let enabled = true;

/**
 * Registers the function that loads the accelerator, called once, on first use (so importing a
 * Node entry costs nothing until a kernel asks). Replaces an earlier registration.
 */
export function registerAccelerator(load: () => AcceleratorLoad): void {
  provider = load;
  loaded = undefined;
}

/** True once a provider is registered (whether or not its kernels loaded). */
export function hasAcceleratorProvider(): boolean {
  return provider !== null;
}

/** The accelerator's kernels when one is registered, loads and is enabled; else null. */
export function accelerator(): NativeKernels | null {
  if (!enabled || provider === null) return null;
  loaded ??= provider();
  return loaded.kernels;
}

/** Why no accelerator is in use (for logs), or null when one is. */
export function acceleratorUnavailableReason(): string | null {
  if (!enabled) return 'disabled (WEIGHT_PREDICTION_NATIVE=0 or setNativeKernelsEnabled(false))';
  if (provider === null) {
    return 'none registered (a browser, or the package loaded without its Node entry)';
  }
  loaded ??= provider();
  return loaded.error;
}

/**
 * Switches the accelerator on or off for the optimizer loops from now on (benchmarks and tests
 * compare both paths). Kernels already registered on a backend keep the choice made then.
 */
export function setAcceleratorEnabled(on: boolean): void {
  enabled = on;
}
