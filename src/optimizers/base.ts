import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { FusedSteps, fusedKernelOf, type FusedStep } from '../kernels/fused/index.js';
import { nativeKernels } from '../kernels/native.js';
import {
  predictedLearningRates,
  predictionCoefficients,
  type PredictionConfig,
} from '../prediction/coefficients.js';
import { resolveLearningRate, type LearningRate, type Schedule } from '../schedules/index.js';
import type { Rule } from '../rules/types.js';
import {
  COMMON_OPTION_NAMES,
  decodeExclusion,
  encodeExclusion,
  exclusionPredicate,
  OptionChecker,
  type WeightDecayExclusion,
} from './options.js';

/** A tensor with a name, as `tf.Optimizer.getWeights` returns (not re-exported by the tfjs package). */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Thrown when a gradient holds NaN or ±Infinity (with `nonFiniteGradients: 'throw'`). */
export class NonFiniteGradientError extends Error {
  override name = 'NonFiniteGradientError';
  constructor(
    message: string,
    readonly variableNames: string[],
  ) {
    super(message);
  }
}

/** Common options after validation and defaults. */
export interface ResolvedCommonOptions {
  learningRate: LearningRate;
  weightDecay: number;
  excludeFromWeightDecay: WeightDecayExclusion | undefined;
  clipGlobalNorm: number | undefined;
  nonFiniteGradients: 'throw' | 'skip';
  prediction: PredictionConfig;
}

/** Validates the options every optimizer shares; `defaults` are the class's own. */
export function resolveCommonOptions(
  check: OptionChecker,
  defaults: { learningRate: number; weightDecay: number },
  decoupledWeightDecay: boolean,
): ResolvedCommonOptions {
  const prediction: PredictionConfig = {
    steps: check.integer('predictionSteps', 0, 0),
    includeWeightDecay: check.boolean('includeWeightDecay', false),
    scheduleAware: check.boolean('scheduleAware', false),
  };
  check.require(
    !prediction.includeWeightDecay || decoupledWeightDecay,
    'includeWeightDecay applies to decoupled weight decay only (AdamW, or AdaBelief with decoupledWeightDecay); this optimizer adds its decay to the gradient, which the prediction already follows',
  );
  return {
    learningRate: check.learningRate(defaults.learningRate),
    weightDecay: check.number('weightDecay', defaults.weightDecay, { min: 0 }),
    excludeFromWeightDecay: check.exclusion(),
    clipGlobalNorm: !check.has('clipGlobalNorm')
      ? undefined
      : check.number('clipGlobalNorm', 0, { min: Number.MIN_VALUE, hint: ' (e.g. 1.0)' }),
    nonFiniteGradients: check.oneOf('nonFiniteGradients', 'throw', ['throw', 'skip'] as const),
    prediction,
  };
}

export { COMMON_OPTION_NAMES };

/** Which implementation runs an optimizer step (see `WeightPredictionOptimizer.kernel`). */
export type OptimizerKernel = 'auto' | 'fused' | 'tfjs';
const KERNELS: readonly OptimizerKernel[] = ['auto', 'fused', 'tfjs'];

/**
 * The base of every optimizer in this package. It owns what is common to all of them, so each
 * optimizer class is only its options and its rule:
 * - `minimize` with weight prediction: keep θ_t aside, put θ̂ = a·θ_t − b·Δθ in the variables,
 *   take the loss and the gradient at θ̂ (the loss function runs exactly once), restore θ_t
 *   bit for bit, update θ_t;
 * - per-variable state slots keyed by variable name, created lazily;
 * - gradient clipping, the non-finite policy, weight-decay exclusion;
 * - `getWeights`/`setWeights` (the whole state) and `getConfig` (every option, prediction included).
 *
 * Outside `minimize` the variables always hold the true weights θ_t.
 */
export abstract class WeightPredictionOptimizer extends tf.Optimizer {
  /** Number of updates skipped because a gradient was not finite (`nonFiniteGradients: 'skip'`). */
  skippedUpdates = 0;

  protected readonly schedule: Schedule;
  private readonly decays: (name: string) => boolean;
  private readonly state = new Map<string, tf.Variable[]>();
  /** The rule's single-pass loops and their θ_t caches; undefined when the rule has none. */
  private readonly fused: FusedSteps | undefined;
  private kernel_: OptimizerKernel = 'auto';

  protected constructor(
    protected readonly common: ResolvedCommonOptions,
    protected readonly rule: Rule,
  ) {
    super();
    this.schedule = resolveLearningRate(common.learningRate);
    const excluded = exclusionPredicate(common.excludeFromWeightDecay);
    this.decays = (name) => !excluded(name);
    const kernel = fusedKernelOf(rule);
    this.fused = kernel && new FusedSteps(kernel);
  }

  /**
   * Which implementation runs each step:
   * - `'fused'`: on the cpu and wasm backends, rules with fused loops (Adam, AdamW) update the
   *   variables and state in place in one pass, which also prepares the next step's θ̂ in a
   *   spare buffer per variable allocated once; other rules and backends use tf ops.
   * - `'tfjs'`: always tf ops (the reference the fused loops are tested against).
   * - `'auto'` (default): fused on the cpu backend, where even the JS loops measured 27–37× faster
   *   than tf ops; on wasm only when the native addon is loaded (src/kernels/native.ts), since the
   *   JS loops measured no faster there than TF.js's own kernels.
   * All compute the same math with the same float64 scalars and agree to float32 rounding. Not
   * part of `getConfig`: it changes how, not what, the optimizer computes.
   *
   * In-place writes give a variable a private buffer first whenever another tensor references it
   * (a clone, a reshape, a tensor kept from the loss). Two views TF.js's cpu backend hands out do
   * not count as references: the array `dataSync()`/`data()` returns, and a contiguous `slice`.
   * With fused steps on cpu they follow the variable's later values; copy them to keep a snapshot.
   */
  get kernel(): OptimizerKernel {
    return this.kernel_;
  }

  set kernel(value: OptimizerKernel) {
    if (!KERNELS.includes(value)) {
      throw new UserInputError(
        `${this.getClassName()}: kernel ${JSON.stringify(value)} is not one of ${KERNELS.map((k) => `'${k}'`).join(', ')}; use 'auto' (fused loops on cpu, and on wasm with the native addon), 'fused' (fused loops on cpu and wasm) or 'tfjs' (tf ops everywhere)`,
      );
    }
    this.kernel_ = value;
  }

  /** The options specific to the subclass, as saved by `getConfig`. */
  protected abstract ruleConfig(): tf.serialization.ConfigDict;

  get predictionSteps(): number {
    return this.common.prediction.steps;
  }

  /** The learning rate the next update will use. */
  get currentLearningRate(): number {
    return this.schedule(this.iterations);
  }

  /** Weight decay λ applied to the named variable (0 when excluded). */
  weightDecayFor(variableName: string): number {
    return this.decays(variableName) ? this.common.weightDecay : 0;
  }

  /**
   * Bytes this optimizer holds beyond the model: its state slots, plus one copy of the trainable
   * weights while a prediction is in flight (θ̂ lives beside the cached θ_t).
   */
  memoryBytes(variables?: readonly tf.Variable[]): number {
    let bytes = 0;
    for (const slots of this.state.values()) for (const s of slots) bytes += s.size * 4;
    const shifted = this.predictionSteps > 0 || this.rule.gradientPoint !== undefined;
    if (shifted && variables) for (const v of variables) bytes += v.size * 4;
    return bytes;
  }

  override minimize(
    f: () => tf.Scalar,
    returnCost = false,
    varList?: tf.Variable[],
  ): tf.Scalar | null {
    const variables = trainableVariables(varList);
    const completed = this.iterations;
    const predicting =
      (this.predictionSteps > 0 || this.rule.gradientPoint !== undefined) && completed > 0;
    const fused = this.fusedStep(variables, true);

    // tf ops: θ_t is kept by reference: TF.js tensors are immutable, so a clone shares the buffer
    // and assigning it back restores θ_t bit for bit with no copy. Fused: θ_t and θ̂ trade buffers
    // (FusedSteps), and the update trades them back before it runs in place.
    const cache = predicting && !fused ? variables.map((v) => tf.keep(v.clone())) : [];
    let value: tf.Scalar;
    let grads: tf.NamedTensorMap;
    try {
      if (predicting) this.writePredictedWeights(variables, completed, fused);
      ({ value, grads } = tf.variableGrads(f, variables));
    } catch (error) {
      fused?.restore();
      throw error;
    } finally {
      cache.forEach((theta, i) => {
        variables[i]!.assign(theta);
        theta.dispose();
      });
    }
    try {
      this.update(variables, grads, fused);
    } catch (error) {
      value.dispose();
      throw error;
    } finally {
      fused?.restore(); // θ_t back in every variable whose update did not run (skipped, threw)
      tf.dispose(grads);
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * Applies an ordinary update (no prediction: prediction needs control of where the gradient is
   * taken, which only `minimize` has). The caller keeps ownership of the gradients.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const grads: tf.NamedTensorMap = Array.isArray(variableGradients)
      ? Object.fromEntries(variableGradients.map((g) => [g.name, g.tensor]))
      : variableGradients;
    const registered = tf.engine().registeredVariables;
    const variables = Object.keys(grads).map((name) => {
      const v = registered[name];
      if (!v) throw new UserInputError(`applyGradients: no variable named "${name}" exists`);
      return v;
    });
    this.update(variables, grads, this.fusedStep(variables, false));
  }

  /**
   * The one place a step's implementation is picked: the rule's fused loops when it has them, the
   * kernel asks for them on this backend, and the variables suit them; null for tf ops.
   * `scratchGradients`: the gradients are this step's own (minimize frees them after the update).
   */
  private fusedStep(
    variables: readonly tf.Variable[],
    scratchGradients: boolean,
  ): FusedStep | null {
    if (this.kernel_ === 'tfjs' || !this.fused) return null;
    if (this.kernel_ === 'auto' && tf.getBackend() !== 'cpu' && nativeKernels() === null) {
      return null;
    }
    return this.fused.stepOn(variables, { scratchGradients });
  }

  private writePredictedWeights(
    variables: readonly tf.Variable[],
    completed: number,
    fused: FusedStep | null,
  ): void {
    const lrs = predictedLearningRates(this.common.prediction, this.schedule, completed);
    // The fused loops make no tensors to collect, so they need no tidy scope.
    if (fused) this.predictEach(variables, lrs, completed, fused);
    else tf.tidy(() => this.predictEach(variables, lrs, completed, null));
  }

  private predictEach(
    variables: readonly tf.Variable[],
    lrs: readonly number[],
    completed: number,
    fused: FusedStep | null,
  ): void {
    for (const v of variables) {
      const slots = this.state.get(v.name);
      if (!slots) continue; // no state yet for this variable: θ̂ = θ
      if (this.rule.gradientPoint) {
        v.assign(this.rule.gradientPoint(v, slots, completed));
        continue;
      }
      const { a, b } = predictionCoefficients(
        this.common.prediction,
        lrs,
        this.weightDecayFor(v.name),
      );
      if (fused) {
        fused.predict(v, slots, { a, b, completed });
        continue;
      }
      const direction = this.rule.direction(slots, completed);
      v.assign((a === 1 ? v : v.mul(a)).sub(direction.mul(b)));
    }
  }

  private update(
    variables: readonly tf.Variable[],
    grads: tf.NamedTensorMap,
    fused: FusedStep | null,
  ): void {
    const missing = variables.filter((v) => grads[v.name] === undefined).map((v) => v.name);
    if (missing.length > 0) {
      throw new UserInputError(
        `${this.getClassName()}: no gradient for variable(s) ${missing.map((n) => `"${n}"`).join(', ')}: they do not influence the loss. Leave them out of varList or make them non-trainable.`,
      );
    }
    const scale = this.gradientScale(variables, grads, fused);
    if (scale === null) return;
    const step = this.iterations + 1;
    const learningRate = this.schedule(step - 1);
    // The fused loops prepare the next step's θ̂ in the update's own pass (see FusedSteps).
    const nextLrs =
      fused && this.predictionSteps > 0
        ? predictedLearningRates(this.common.prediction, this.schedule, step)
        : null;
    tf.tidy(() => {
      for (const v of variables) {
        const slots = this.slotsFor(v);
        const weightDecay = this.weightDecayFor(v.name);
        const ctx = { step, learningRate, weightDecay };
        if (fused) {
          const next = nextLrs && {
            ...predictionCoefficients(this.common.prediction, nextLrs, weightDecay),
            completed: step,
          };
          fused.update(v, grads[v.name]!, scale, slots, ctx, next ?? undefined);
          continue;
        }
        const g = scale === 1 ? grads[v.name]! : grads[v.name]!.mul(scale);
        const next = this.rule.update(v, g, slots, ctx);
        v.assign(next.theta);
        next.state.forEach((value, i) => slots[i]!.assign(value));
      }
    });
    this.incrementIterations();
  }

  /**
   * One host read per update: the squared global norm, which both detects non-finite gradients and
   * gives the clipping factor. Returns the factor to multiply gradients by, or null to skip.
   */
  private gradientScale(
    variables: readonly tf.Variable[],
    grads: tf.NamedTensorMap,
    fused: FusedStep | null,
  ): number | null {
    let norm: number;
    if (fused) {
      norm = Math.sqrt(fused.sumOfSquares(variables.map((v) => grads[v.name]!)));
    } else {
      const sumSquares = tf.tidy(() =>
        tf.addN(variables.map((v) => grads[v.name]!.square().sum())),
      );
      norm = Math.sqrt(sumSquares.dataSync()[0]!);
      sumSquares.dispose();
    }
    if (!Number.isFinite(norm)) {
      const bad = variables
        .filter((v) => tf.tidy(() => tf.isFinite(grads[v.name]!).all().dataSync()[0] === 0))
        .map((v) => v.name);
      if (bad.length > 0) {
        if (this.common.nonFiniteGradients === 'skip') {
          this.skippedUpdates++;
          return null;
        }
        throw new NonFiniteGradientError(
          `${this.getClassName()}: non-finite gradient (NaN or Infinity) for variable(s) ${bad.map((n) => `"${n}"`).join(', ')} at update ${this.iterations + 1}; weights and state were left unchanged. Lower the learning rate, set clipGlobalNorm, or pass nonFiniteGradients: 'skip' to skip such updates.`,
          bad,
        );
      }
      norm = overflowSafeNorm(variables.map((v) => grads[v.name]!));
    }
    const maxNorm = this.common.clipGlobalNorm;
    if (maxNorm === undefined) return 1;
    return Math.min(1, maxNorm / (norm + 1e-6));
  }

  private slotsFor(v: tf.Variable): tf.Variable[] {
    let slots = this.state.get(v.name);
    if (!slots) {
      slots = this.rule.slots.map(() => tf.variable(tf.zerosLike(v), false));
      this.state.set(v.name, slots);
    } else {
      const bad = slots.find((s) => !tf.util.arraysEqual(s.shape, v.shape));
      if (bad) {
        throw new UserInputError(
          `${this.getClassName()}: state for variable "${v.name}" has shape [${bad.shape}] but the variable has shape [${v.shape}]; the optimizer state was saved for a different model`,
        );
      }
    }
    return slots;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    for (const [name, slots] of this.state) {
      slots.forEach((tensor, i) => weights.push({ name: `${name}/${this.rule.slots[i]}`, tensor }));
    }
    return weights;
  }

  /**
   * Restores the state written by `getWeights`. Copies synchronously before anything else, because
   * tfjs-layers disposes the tensors as soon as this call returns its promise.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const [iter, ...rest] = weightValues;
    if (!iter || iter.name !== 'iter' || iter.tensor.size !== 1) {
      throw new UserInputError(
        `${this.getClassName()}.setWeights: expected the first weight to be the "iter" scalar written by getWeights`,
      );
    }
    const grouped = new Map<string, Map<string, tf.Tensor>>();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      const slotName = name.slice(cut + 1);
      if (cut < 0 || !this.rule.slots.includes(slotName)) {
        throw new UserInputError(
          `${this.getClassName()}.setWeights: unexpected weight "${name}"; this optimizer's state slots are ${this.rule.slots.join(', ')} (was it saved by another optimizer or with other options?)`,
        );
      }
      const variableName = name.slice(0, cut);
      if (!grouped.has(variableName)) grouped.set(variableName, new Map());
      grouped.get(variableName)!.set(slotName, tensor);
    }
    const next = new Map<string, tf.Variable[]>();
    for (const [variableName, slots] of grouped) {
      const missing = this.rule.slots.filter((s) => !slots.has(s));
      if (missing.length > 0) {
        throw new UserInputError(
          `${this.getClassName()}.setWeights: variable "${variableName}" lacks state slot(s) ${missing.join(', ')}`,
        );
      }
      next.set(
        variableName,
        this.rule.slots.map((s) => ownedVariable(slots.get(s)!)),
      );
    }
    this.iterations_ = iter.tensor.dataSync()[0]!;
    this.disposeState();
    for (const [name, slots] of next) this.state.set(name, slots);
  }

  override dispose(): void {
    this.fused?.dispose();
    this.disposeState();
    super.dispose();
  }

  private disposeState(): void {
    for (const slots of this.state.values()) slots.forEach((s) => s.dispose());
    this.state.clear();
  }

  /** Rebuilds an optimizer from `getConfig()` output (used by `tf.loadLayersModel`). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // tfjs-layers adds its `customObjects` to the config it passes here.
    const { excludeFromWeightDecay, customObjects: _customObjects, ...rest } = config;
    return new cls({ ...rest, excludeFromWeightDecay: decodeExclusion(excludeFromWeightDecay) });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { learningRate } = this.common;
    if (typeof learningRate === 'function') {
      throw new UserInputError(
        `${this.getClassName()}.getConfig(): learningRate is a function, which cannot be saved; pass a schedule spec (e.g. cosineDecay(1e-3, 10000)) to save this optimizer`,
      );
    }
    const config: tf.serialization.ConfigDict = {
      learningRate: learningRate as unknown as tf.serialization.ConfigDictValue,
      weightDecay: this.common.weightDecay,
      nonFiniteGradients: this.common.nonFiniteGradients,
      predictionSteps: this.common.prediction.steps,
      includeWeightDecay: this.common.prediction.includeWeightDecay,
      scheduleAware: this.common.prediction.scheduleAware,
      ...this.ruleConfig(),
    };
    const exclusion = encodeExclusion(this.getClassName(), this.common.excludeFromWeightDecay);
    if (exclusion)
      config.excludeFromWeightDecay = exclusion as unknown as tf.serialization.ConfigDict;
    if (this.common.clipGlobalNorm !== undefined)
      config.clipGlobalNorm = this.common.clipGlobalNorm;
    return config;
  }
}

/** A non-trainable variable holding a copy of `t`'s values (the caller may dispose `t`). */
function ownedVariable(t: tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(t.add(0), false));
}

/** The trainable variables to optimise: varList's, or every trainable variable (as TF.js does). */
function trainableVariables(varList?: tf.Variable[]): tf.Variable[] {
  const all = varList ?? Object.values(tf.engine().registeredVariables);
  return all.filter((v) => v.trainable);
}

/** √Σg² without overflow when Σg² exceeds float32: scale by the largest magnitude first. */
function overflowSafeNorm(grads: tf.Tensor[]): number {
  return tf.tidy(() => {
    const maxAbs = tf.max(tf.stack(grads.map((g) => g.abs().max()))).dataSync()[0]!;
    const scaled = tf.addN(grads.map((g) => g.div(maxAbs).square().sum())).dataSync()[0]!;
    return maxAbs * Math.sqrt(scaled);
  });
}
