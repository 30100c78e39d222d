import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { deriveSeed } from './seeds.js';
import { checkRate, checkSeed } from './validate.js';

/**
 * Where SeededDropout masks come from: mask number `counter` is drawn with seed
 * `deriveSeed(seed, counter)`, then `counter` advances. Save it with a checkpoint and restore it on
 * resume so the resumed run draws exactly the masks the uninterrupted run would have drawn.
 */
export interface DropoutState {
  seed: number;
  counter: number;
}

// One stream shared by every SeededDropout layer: the training loop owns it, and since a
// functional model runs its layers in a fixed topological order, the k-th mask of a step always
// goes to the same layer.
let state: DropoutState = { seed: 0, counter: 0 };

/** Restarts the dropout mask stream at `seed` (counter 0). */
export function setDropoutSeed(seed: number): void {
  checkSeed(seed, 'dropout seed');
  state = { seed, counter: 0 };
}

/** A copy of the current dropout stream position, for checkpoints. */
export function getDropoutState(): DropoutState {
  return { ...state };
}

/** Restores a position saved by `getDropoutState`. */
export function setDropoutState(saved: DropoutState): void {
  if (saved === null || typeof saved !== 'object') {
    throw new UserInputError(
      `dropout state must be an object {seed, counter}, got ${JSON.stringify(saved)}`,
    );
  }
  checkSeed(saved.seed, 'dropout state seed');
  if (!Number.isSafeInteger(saved.counter) || saved.counter < 0) {
    throw new UserInputError(
      `dropout state counter must be a non-negative integer, got ${saved.counter}`,
    );
  }
  state = { seed: saved.seed, counter: saved.counter };
}

/** Takes the next mask seed from the shared stream. */
function nextMaskSeed(): number {
  const s = deriveSeed(state.seed, state.counter);
  state.counter += 1;
  return s;
}

export interface SeededDropoutArgs {
  /** Fraction of units dropped, in [0, 1). */
  rate: number;
  name?: string;
  inputShape?: tf.Shape;
}

/**
 * Inverted dropout whose masks come from the module's seeded stream (`setDropoutSeed`,
 * `getDropoutState`, `setDropoutState`) instead of tfjs-layers' unseeded global RNG (stock
 * `tf.layers.dropout`; given a `seed`, it repeats one mask on every call). Each training call takes
 * a fresh seed from the stream; at inference (`training` false or absent) it is the identity and
 * draws nothing. Masks are drawn on the host (`tf.randomUniform` with a seed), so they are the same
 * on every backend.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;

  constructor(args: SeededDropoutArgs) {
    super(args);
    checkRate(args.rate, 'dropout rate');
    this.rate = args.rate;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined) throw new Error('SeededDropout expects one input tensor');
    if (kwargs?.training !== true || this.rate === 0) {
      return x; // as the stock Dropout does at inference
    }
    const seed = nextMaskSeed();
    return tf.tidy(() => {
      const u = tf.randomUniform(x.shape, 0, 1, 'float32', seed);
      const keep = tf.cast(tf.greaterEqual(u, this.rate), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}
tf.serialization.registerClass(SeededDropout);
