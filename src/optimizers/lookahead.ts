import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { WeightPredictionOptimizer, type OptimizerKernel } from './base.js';
import { OptionChecker } from './options.js';

/** A tensor with a name, as `tf.Optimizer.getWeights` returns. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface LookaheadOptions {
  /** The inner ("fast") optimizer: any optimizer of this package, with or without prediction. */
  optimizer: WeightPredictionOptimizer;
  /** Synchronise every k inner updates (default 5, the paper's). */
  k?: number;
  /** Slow-weight step size α in (0, 1] (default 0.5, the paper's). */
  alpha?: number;
}

const OPTIONS = ['optimizer', 'k', 'alpha'];
/** Suffix of the slow weights in `getWeights`; no optimizer of the package has a slot so named. */
const SLOW = 'lookaheadSlow';

/**
 * Lookahead (Zhang et al., NeurIPS 2019, Algorithm 1) around any optimizer of this package: the
 * inner optimizer updates the variables (the fast weights θ) as usual, its own weight prediction
 * included; after every k-th update the slow weights φ take a step toward them, φ ← φ + α(θ − φ),
 * and the fast weights restart from φ. The inner optimizer's state is kept across synchronisations
 * (the paper's algorithm; no momentum pullback). φ starts at the variable's value before its first
 * update. Outside `minimize` the variables hold the fast weights (equal to φ right after a
 * synchronisation).
 *
 * No prediction of its own: φ moves once every k steps and the gradient is always taken at the
 * fast weights, so a prediction belongs to the inner optimizer (`new AdamW({ predictionSteps: 1 })`).
 */
export class Lookahead extends tf.Optimizer {
  static readonly className = 'WeightPredictionLookahead';
  readonly optimizer: WeightPredictionOptimizer;
  readonly k: number;
  readonly alpha: number;
  private readonly slow = new Map<string, tf.Variable>();

  constructor(options: LookaheadOptions) {
    super();
    if (options !== null && typeof options === 'object' && 'predictionSteps' in options) {
      throw new UserInputError(
        'Lookahead: predictionSteps is not an option of Lookahead: its slow weights move once every k steps and the gradient is always taken at the fast weights, so prediction belongs to the inner optimizer, e.g. new Lookahead({ optimizer: new AdamW({ predictionSteps: 1 }) })',
      );
    }
    const check = new OptionChecker('Lookahead', options, OPTIONS);
    const inner = (options as { optimizer?: unknown }).optimizer;
    // Not `instanceof`: tf.Optimizer's Symbol.hasInstance accepts anything with a minimize method.
    if (!isPackageOptimizer(inner)) {
      const got =
        typeof (inner as { getClassName?: unknown } | undefined)?.getClassName === 'function'
          ? `a ${(inner as tf.Optimizer).getClassName()}, which is not an optimizer of this package`
          : inner === undefined
            ? 'nothing'
            : (JSON.stringify(inner) ?? String(inner));
      throw new UserInputError(
        `Lookahead: invalid optimizer ${got}: expected an optimizer of this package (AdamW, Adam, SGD, RMSprop, AdaBelief, NAdam, Lion, ScheduleFreeAdamW), e.g. new Lookahead({ optimizer: new AdamW() })`,
      );
    }
    this.optimizer = inner;
    this.k = check.integer('k', 5, 1);
    this.alpha = check.number('alpha', 0.5, { max: 1, hint: ' and > 0, i.e. in (0, 1]' });
    check.require(
      this.alpha > 0,
      `invalid alpha ${this.alpha}: expected a finite number in (0, 1] (0 would freeze the slow weights)`,
    );
  }

  override get iterations(): number {
    return this.optimizer.iterations;
  }

  /** The inner optimizer's kernel choice (see `WeightPredictionOptimizer.kernel`). */
  get kernel(): OptimizerKernel {
    return this.optimizer.kernel;
  }

  set kernel(value: OptimizerKernel) {
    this.optimizer.kernel = value;
  }

  get predictionSteps(): number {
    return this.optimizer.predictionSteps;
  }

  get currentLearningRate(): number {
    return this.optimizer.currentLearningRate;
  }

  get skippedUpdates(): number {
    return this.optimizer.skippedUpdates;
  }

  /** The inner optimizer's bytes plus one slow copy of every variable. */
  memoryBytes(variables?: readonly tf.Variable[]): number {
    let bytes = this.optimizer.memoryBytes(variables);
    for (const phi of this.slow.values()) bytes += phi.size * 4;
    return bytes;
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]) {
    const variables = (varList ?? Object.values(tf.engine().registeredVariables)).filter(
      (v) => v.trainable,
    );
    this.ensureSlow(variables);
    const before = this.optimizer.iterations;
    const value = this.optimizer.minimize(f, returnCost, varList);
    this.synchronise(variables, before);
    return value;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((g) => g.name)
      : Object.keys(variableGradients);
    const registered = tf.engine().registeredVariables;
    const variables = names.map((n) => registered[n]).filter((v) => v !== undefined);
    this.ensureSlow(variables);
    const before = this.optimizer.iterations;
    this.optimizer.applyGradients(variableGradients);
    this.synchronise(variables, before);
  }

  private ensureSlow(variables: readonly tf.Variable[]): void {
    for (const v of variables) {
      if (!this.slow.has(v.name)) this.slow.set(v.name, tf.variable(v.clone(), false));
    }
  }

  /** φ ← φ + α(θ − φ), θ ← φ after every k-th update (none when the inner one skipped it). */
  private synchronise(variables: readonly tf.Variable[], before: number): void {
    const after = this.optimizer.iterations;
    if (after === before || after % this.k !== 0) return;
    tf.tidy(() => {
      for (const v of variables) {
        const phi = this.slow.get(v.name)!;
        phi.assign(phi.add(v.sub(phi).mul(this.alpha)));
        v.assign(phi);
      }
    });
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights = await this.optimizer.getWeights();
    for (const [name, tensor] of this.slow) weights.push({ name: `${name}/${SLOW}`, tensor });
    return weights;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const slow = new Map<string, tf.Variable>();
    const inner: NamedTensor[] = [];
    for (const w of weightValues) {
      if (w.name.endsWith(`/${SLOW}`)) {
        slow.set(
          w.name.slice(0, -SLOW.length - 1),
          tf.tidy(() => tf.variable(w.tensor.add(0), false)),
        );
      } else {
        inner.push(w);
      }
    }
    try {
      await this.optimizer.setWeights(inner);
    } catch (error) {
      slow.forEach((phi) => phi.dispose());
      throw error;
    }
    this.disposeSlow();
    for (const [name, phi] of slow) this.slow.set(name, phi);
  }

  override dispose(): void {
    this.optimizer.dispose();
    this.disposeSlow();
    super.dispose();
  }

  private disposeSlow(): void {
    this.slow.forEach((phi) => phi.dispose());
    this.slow.clear();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      optimizer: {
        className: this.optimizer.getClassName(),
        config: this.optimizer.getConfig(),
      },
      k: this.k,
      alpha: this.alpha,
    };
  }

  /** Rebuilds the inner optimizer from its registered class, then the wrapper. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const spec = config.optimizer as { className?: string; config?: tf.serialization.ConfigDict };
    const entry =
      spec?.className === undefined
        ? undefined
        : tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    if (!entry || !spec.config) {
      throw new UserInputError(
        `Lookahead.fromConfig: no registered optimizer class ${JSON.stringify(spec?.className)}; import the package (which registers its optimizers) before loading`,
      );
    }
    const [innerCls, fromConfig] = entry;
    const optimizer = fromConfig(innerCls, spec.config);
    return new cls({ optimizer, k: config.k, alpha: config.alpha });
  }
}
tf.serialization.registerClass(Lookahead);

function isPackageOptimizer(value: unknown): value is WeightPredictionOptimizer {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.isPrototypeOf.call(WeightPredictionOptimizer.prototype, value)
  );
}
