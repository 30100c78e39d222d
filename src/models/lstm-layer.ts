import * as tf from '@tensorflow/tfjs';
import { fusedDense } from '../kernels/dense.js';
import { lstmSequence } from '../kernels/lstm.js';

export interface ExplicitStateLstmArgs {
  units: number;
  /** Weights and bias start uniform in (−initLimit, initLimit). */
  initLimit: number;
  /** Seeds the three initializers (kernel, recurrent kernel, bias streams). */
  seeds: [number, number, number];
  name?: string;
}

/**
 * One LSTM layer whose initial state is an input and whose final state is part of its single
 * output. Inputs `[x [b, t, in], h0 [b, H], c0 [b, H]]`; output `[b, t + 1, H]` holding
 * `h_1 … h_t` followed by `c_t` (take them apart with `LstmOutput`).
 *
 * Why not the stock `tf.layers.lstm` with `returnState` and `initialState`: tfjs-layers 4.22's
 * executor runs a layer once per output it needs (three LSTM passes per forward pass), and
 * `RNN.apply` writes `initialState` into the kwargs object the executor shares between layers, so
 * `model.apply(…, {training: true})` throws. A single-output layer has neither problem.
 *
 * The cell is PyTorch's and Keras's LSTM with sigmoid gates (the tfjs default is hard sigmoid), as
 * `lstmSequence` (src/kernels/lstm.ts) runs it. Weights `kernel [in, 4H]`, `recurrent_kernel
 * [H, 4H]`, `bias [4H]` have the stock layer's names and layout. The input projection of all t
 * steps is one matmul.
 */
export class ExplicitStateLstm extends tf.layers.Layer {
  static className = 'ExplicitStateLSTM';
  readonly units: number;
  readonly initLimit: number;
  readonly seeds: [number, number, number];
  private kernel: tf.LayerVariable | undefined;
  private recurrentKernel: tf.LayerVariable | undefined;
  private bias: tf.LayerVariable | undefined;

  constructor(args: ExplicitStateLstmArgs) {
    super(args);
    this.units = args.units;
    this.initLimit = args.initLimit;
    this.seeds = [...args.seeds];
  }

  private initializer(seed: number): ReturnType<typeof tf.initializers.randomUniform> {
    return tf.initializers.randomUniform({
      minval: -this.initLimit,
      maxval: this.initLimit,
      seed,
    });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const xShape = inputShape[0] as tf.Shape;
    const inputDim = xShape[xShape.length - 1];
    if (typeof inputDim !== 'number') {
      throw new Error(`${this.name}: the last input dimension must be known`);
    }
    const g = 4 * this.units;
    const [s0, s1, s2] = this.seeds;
    this.kernel = this.addWeight('kernel', [inputDim, g], 'float32', this.initializer(s0));
    this.recurrentKernel = this.addWeight(
      'recurrent_kernel',
      [this.units, g],
      'float32',
      this.initializer(s1),
    );
    this.bias = this.addWeight('bias', [g], 'float32', this.initializer(s2));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, t] = inputShape[0] as tf.Shape;
    return [b ?? null, t === null || t === undefined ? null : t + 1, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, h0, c0] = inputs as tf.Tensor[];
      if (x === undefined || h0 === undefined || c0 === undefined) {
        throw new Error(`${this.name} expects [x, h0, c0]`);
      }
      const [b, t, d] = x.shape as [number, number, number];
      if (t < 1) throw new Error(`${this.name}: the sequence must have at least one step`);
      const g = 4 * this.units;
      const kernel = (this.kernel as tf.LayerVariable).read();
      const recurrent = (this.recurrentKernel as tf.LayerVariable).read();
      const bias = (this.bias as tf.LayerVariable).read();
      const x2d = tf.reshape(x, [b * t, d]);
      const projected =
        fusedDense(x2d, kernel, bias, 'linear') ?? tf.add(tf.matMul(x2d, kernel), bias);
      return lstmSequence(
        tf.reshape(projected, [b, t, g]) as tf.Tensor3D,
        h0 as tf.Tensor2D,
        c0 as tf.Tensor2D,
        recurrent as tf.Tensor2D,
      );
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      initLimit: this.initLimit,
      seeds: [...this.seeds],
    };
  }
}
tf.serialization.registerClass(ExplicitStateLstm);

export interface LstmOutputArgs {
  /** `'sequence'`: `h_1 … h_t` `[b, t, H]`; `'h'`: `h_t` `[b, H]`; `'c'`: `c_t` `[b, H]`. */
  part: 'sequence' | 'h' | 'c';
  name?: string;
}

/** Takes one part out of an `ExplicitStateLstm` output `[b, t + 1, H]`. */
export class LstmOutput extends tf.layers.Layer {
  static className = 'LstmOutput';
  readonly part: 'sequence' | 'h' | 'c';

  constructor(args: LstmOutputArgs) {
    super(args);
    this.part = args.part;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, t, units] = inputShape as tf.Shape;
    if (this.part !== 'sequence') return [b ?? null, units ?? null];
    return [b ?? null, t === null || t === undefined ? null : t - 1, units ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, t1, units] = x.shape;
      if (this.part === 'sequence') return tf.slice(x, [0, 0, 0], [b, t1 - 1, units]);
      const row = this.part === 'h' ? t1 - 2 : t1 - 1;
      return tf.reshape(tf.slice(x, [0, row, 0], [b, 1, units]), [b, units]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), part: this.part };
  }
}
tf.serialization.registerClass(LstmOutput);
