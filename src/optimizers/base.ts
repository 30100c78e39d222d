import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import {
  coefficientsAfter,
  MAX_PREDICTION_STEPS,
  type PredictionConfig,
} from '../prediction/coefficients.js';
import type { FusedKernels, PredictionScalars } from '../prediction/fused/types.js';
import {
  OPTIMIZER_KERNELS,
  StepEngine,
  type OptimizerKernel,
  type StepStrategy,
} from '../prediction/step.js';
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
    steps: check.integer('predictionSteps', 0, 0, MAX_PREDICTION_STEPS),
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

export type { OptimizerKernel };

/**
 * The base of every optimizer in this package. It owns what is common to all of them, so each
 * optimizer class is only its options, its rule and the rule's fused loops:
 * - `minimize` with weight prediction, one straight line: θ̂ into the variables, the loss and
 *   gradient at θ̂ (the loss function runs exactly once), θ_t back bit for bit, the update of θ_t
 *   (the mechanics live in src/prediction/step.ts, which also picks the implementation);
 * - per-variable state slots keyed by variable name, created lazily, and the rule's host state;
 * - gradient clipping, the non-finite policy, weight-decay exclusion;
 * - `getWeights`/`setWeights` (the whole state) and `getConfig` (every option, prediction included).
 *
 * Outside `minimize` the variables always hold the true weights θ_t (the rule's evaluation weights).
 */
export abstract class WeightPredictionOptimizer extends tf.Optimizer {
  /** Number of updates skipped because a gradient was not finite (`nonFiniteGradients: 'skip'`). */
  skippedUpdates = 0;

  protected readonly schedule: Schedule;
  private readonly decays: (name: string) => boolean;
  private readonly state = new Map<string, tf.Variable[]>();
  private readonly steps: StepEngine;
  private kernel_: OptimizerKernel = 'auto';
  private disposed = false;

  /** `fusedKernels`: the rule's single-pass loops, when it has them (see src/prediction/step.ts). */
  protected constructor(
    protected readonly common: ResolvedCommonOptions,
    protected readonly rule: Rule,
    fusedKernels?: FusedKernels,
  ) {
    super();
    if (common.prediction.steps > 0 && (!rule.direction || rule.gradientPoint)) {
      throw new UserInputError(
        `${this.getClassName()}: predictionSteps must be 0: ${rule.noPredictionReason ?? 'this optimizer has no update direction to predict along'}`,
      );
    }
    this.schedule = resolveLearningRate(common.learningRate);
    const excluded = exclusionPredicate(common.excludeFromWeightDecay);
    this.decays = (name) => !excluded(name);
    this.steps = new StepEngine(rule, fusedKernels);
    rule.host?.load(undefined);
  }

  /**
   * Which implementation runs each step:
   * - `'fused'`: on the cpu and wasm backends, rules with fused loops (Adam, AdamW in JS and
   *   native; SGD, RMSprop, AdaBelief in JS) update the variables and state in place in one
   *   pass, which also prepares the next step's θ̂ in a spare buffer per variable allocated once;
   *   other rules and backends use tf ops.
   * - `'tfjs'`: always tf ops (the reference the fused loops are tested against).
   * - `'auto'` (default): fused on the cpu backend, where even the JS loops measured 27–37× faster
   *   than tf ops; on wasm only with native loops (the addon registered, src/accelerator.ts, and
   *   a rule that has them), since the JS loops measured no faster there than TF.js's own kernels.
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
    if (!OPTIMIZER_KERNELS.includes(value)) {
      throw new UserInputError(
        `${this.getClassName()}: kernel ${JSON.stringify(value)} is not one of ${OPTIMIZER_KERNELS.map((k) => `'${k}'`).join(', ')}; use 'auto' (fused loops on cpu, and on wasm with the native addon), 'fused' (fused loops on cpu and wasm) or 'tfjs' (tf ops everywhere)`,
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
    if (this.movesGradientPoint() && variables) for (const v of variables) bytes += v.size * 4;
    return bytes;
  }

  /**
   * Takes the gradient of `f` at the predicted weights θ̂ (or the rule's gradient point) and
   * updates the true weights with it. Without `varList`, as TF.js's own optimizers do: every
   * trainable variable that the loss depends on.
   */
  override minimize(
    f: () => tf.Scalar,
    returnCost = false,
    varList?: tf.Variable[],
  ): tf.Scalar | null {
    this.assertUsable('minimize');
    const candidates = trainableVariables(varList);
    const step = this.steps.select(this.kernel_, candidates, true);
    let value: tf.Scalar;
    let grads: tf.NamedTensorMap;
    try {
      if (this.movesGradientPoint() && this.iterations > 0) this.predict(candidates, step);
      ({ value, grads } = tf.variableGrads(f, candidates));
    } finally {
      step.restore();
    }
    // Without a var list only the variables the loss reached are updated (tf.train's behaviour);
    // with one, each listed variable must have a gradient (`update` says which has none).
    const variables =
      varList === undefined ? candidates.filter((v) => grads[v.name] !== undefined) : candidates;
    try {
      this.update(variables, grads, step);
    } catch (error) {
      value.dispose();
      throw error;
    } finally {
      step.restore(); // θ_t back in every variable whose update did not run (skipped, threw)
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
    this.assertUsable('applyGradients');
    const grads: tf.NamedTensorMap = Array.isArray(variableGradients)
      ? Object.fromEntries(variableGradients.map((g) => [g.name, g.tensor]))
      : variableGradients;
    const registered = tf.engine().registeredVariables;
    const variables = Object.keys(grads).map((name) => {
      const v = registered[name];
      if (!v) throw new UserInputError(`applyGradients: no variable named "${name}" exists`);
      return v;
    });
    this.update(variables, grads, this.steps.select(this.kernel_, variables, false));
  }

  /** True when the gradient is taken away from θ_t: a prediction, or the rule's own point. */
  private movesGradientPoint(): boolean {
    return this.common.prediction.steps > 0 || this.rule.gradientPoint !== undefined;
  }

  /** θ̂ into every variable that has state (one without has never been updated: θ̂ = θ). */
  private predict(variables: readonly tf.Variable[], step: StepStrategy): void {
    const completed = this.iterations;
    const coefficients = coefficientsAfter(this.common.prediction, this.schedule, completed);
    let decay = Number.NaN;
    let scalars!: PredictionScalars;
    for (const v of variables) {
      const slots = this.state.get(v.name);
      if (!slots) continue;
      const weightDecay = this.weightDecayFor(v.name);
      if (weightDecay !== decay) {
        scalars = { ...coefficients(weightDecay), completed };
        decay = weightDecay;
      }
      step.predict(v, slots, scalars);
    }
  }

  private update(
    variables: readonly tf.Variable[],
    grads: tf.NamedTensorMap,
    step: StepStrategy,
  ): void {
    const missing = variables.filter((v) => grads[v.name] === undefined).map((v) => v.name);
    if (missing.length > 0) {
      throw new UserInputError(
        `${this.getClassName()}: no gradient for variable(s) ${missing.map((n) => `"${n}"`).join(', ')}: they do not influence the loss. Leave them out of varList or make them non-trainable.`,
      );
    }
    const scale = this.gradientScale(variables, grads, step);
    if (scale === null) return;
    const t = this.iterations + 1;
    const learningRate = this.schedule(t - 1);
    const stepScalars = this.rule.host?.beginStep(t, learningRate);
    // The fused loops prepare the next step's θ̂ in the update's own pass (prediction/fused/).
    const next =
      this.common.prediction.steps > 0
        ? coefficientsAfter(this.common.prediction, this.schedule, t)
        : null;
    // The next θ̂'s scalars, made once per distinct weight decay (a step has one or two).
    let predictionDecay = Number.NaN;
    let prediction: PredictionScalars | undefined;
    tf.tidy(() => {
      for (const v of variables) {
        const slots = this.slotsFor(v);
        const weightDecay = this.weightDecayFor(v.name);
        const ctx = { step: t, learningRate, weightDecay, stepScalars };
        if (next && weightDecay !== predictionDecay) {
          prediction = { ...next(weightDecay), completed: t };
          predictionDecay = weightDecay;
        }
        step.update(v, grads[v.name]!, scale, slots, ctx, prediction);
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
    step: StepStrategy,
  ): number | null {
    let norm = Math.sqrt(step.sumOfSquares(variables.map((v) => grads[v.name]!)));
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
      const initial = this.rule.init
        ? tf.tidy(() => this.rule.init!(v))
        : this.rule.slots.map(() => tf.zerosLike(v));
      slots = initial.map((t) => {
        const s = tf.variable(t, false);
        t.dispose();
        return s;
      });
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

  private assertUsable(method: string): void {
    if (this.disposed) {
      throw new UserInputError(
        `${this.getClassName()}.${method}: this optimizer was disposed; create a new one (or restore one with setWeights) to keep training`,
      );
    }
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    const host = this.rule.host;
    if (host) {
      // float32 scalars, as TF.js saves every weight; the rule's own float64 values round here.
      const values = host.values();
      host.names.forEach((name, i) =>
        weights.push({ name: `${HOST_PREFIX}${name}`, tensor: tf.scalar(values[i]!) }),
      );
    }
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
    const hostValues = new Map<string, number>();
    for (const { name, tensor } of rest) {
      if (name.startsWith(HOST_PREFIX)) {
        hostValues.set(name.slice(HOST_PREFIX.length), tensor.dataSync()[0]!);
        continue;
      }
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
    const host = this.rule.host;
    const hostNames = host?.names ?? [];
    const unknown = [...hostValues.keys()].filter((n) => !hostNames.includes(n));
    const absent = hostNames.filter((n) => !hostValues.has(n));
    if (unknown.length > 0 || (absent.length > 0 && hostValues.size > 0)) {
      throw new UserInputError(
        `${this.getClassName()}.setWeights: optimizer-wide state ${[...hostValues.keys()].join(', ') || '(none)'} does not match this optimizer's (${hostNames.join(', ') || 'none'}); was it saved by another optimizer?`,
      );
    }
    this.iterations_ = iter.tensor.dataSync()[0]!;
    this.disposeState();
    for (const [name, slots] of next) this.state.set(name, slots);
    host?.load(hostValues.size > 0 ? hostNames.map((n) => hostValues.get(n)!) : undefined);
  }

  override dispose(): void {
    this.steps.dispose();
    this.disposeState();
    this.disposed = true;
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

/** Names of the rule's host-state scalars among the saved weights (no variable name has '@'). */
const HOST_PREFIX = '@rule/';

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
