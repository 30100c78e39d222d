import * as tf from '@tensorflow/tfjs';
import { causalSoftmax } from '../kernels/causal-softmax.js';
import { fusedDense } from '../kernels/dense.js';
import { fusedGelu } from '../kernels/gelu.js';
import { fusedLayerNorm } from '../kernels/layer-norm.js';
import { matMulTransposedB } from '../kernels/matmul.js';
import { SeededDropout } from './dropout.js';

/** PyTorch's `nn.LayerNorm` default (tfjs-layers' layerNormalization defaults to 1e-3). */
export const LAYER_NORM_EPSILON = 1e-5;

/**
 * Layer normalization over the last axis of `x`: (x − mean) / √(var + ε) · gamma + beta, with the
 * biased variance, as PyTorch's `nn.LayerNorm`: one fused op where the backend has it
 * (kernels/layer-norm.ts), else the stock ops.
 */
export function layerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon = LAYER_NORM_EPSILON,
): tf.Tensor {
  const fused = fusedLayerNorm(x, gamma, beta, epsilon);
  if (fused) return fused;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normalized, gamma), beta);
  });
}

/**
 * GELU with the erf form, x · Φ(x) (PyTorch's `nn.GELU()` default; erf as TF.js computes it): one
 * fused op where the backend has it (kernels/gelu.ts), else the stock ops.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return (
    fusedGelu(x) ??
    tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)))
  );
}

/** x · W + b for x [rows, in]: one fused op where the backend has it (kernels/dense.ts). */
function linear(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return fusedDense(x, kernel, bias, 'linear') ?? tf.add(tf.matMul(x, kernel), bias);
}

/**
 * A `[t, t]` additive mask: 0 on and below the diagonal, −1e9 above it, so after softmax a
 * position puts exactly zero weight on later positions (exp(−1e9 − max) underflows to 0 in
 * float32) and every row keeps its diagonal, so no row is all-masked and nothing becomes NaN.
 */
export function causalMask(t: number): tf.Tensor2D {
  return tf.tidy(() => {
    const lower = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
    return tf.mul(tf.sub(1, lower), -1e9) as tf.Tensor2D;
  });
}

export interface PositionEmbeddingArgs {
  /** Longest sequence: the number of learned positions. */
  contextLength: number;
  /** Width of each position vector (the model width). */
  units: number;
  /** Seeds the normal(0, stddev) initializer. */
  seed: number;
  stddev: number;
  name?: string;
}

/**
 * Adds a learned position vector to each step of `[b, t, units]` (GPT's `wpe`): weight
 * `embeddings [contextLength, units]`, rows 0 … t − 1 used. A window longer than the context is an
 * error, not a silent wrap-around.
 */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'PositionEmbedding';
  readonly contextLength: number;
  readonly units: number;
  readonly seed: number;
  readonly stddev: number;
  private embeddings: tf.LayerVariable | undefined;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    this.contextLength = args.contextLength;
    this.units = args.units;
    this.seed = args.seed;
    this.stddev = args.stddev;
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    this.embeddings = this.addWeight(
      'embeddings',
      [this.contextLength, this.units],
      'float32',
      tf.initializers.randomNormal({ mean: 0, stddev: this.stddev, seed: this.seed }),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const t = x.shape[1];
      if (t > this.contextLength) {
        throw new Error(
          `${this.name}: a window of ${t} tokens is longer than the model's context of ${this.contextLength}; use at most ${this.contextLength} tokens per window`,
        );
      }
      const positions = (this.embeddings as tf.LayerVariable).read();
      return tf.add(x, tf.slice(positions, [0, 0], [t, this.units]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      contextLength: this.contextLength,
      units: this.units,
      seed: this.seed,
      stddev: this.stddev,
    };
  }
}
tf.serialization.registerClass(PositionEmbedding);

export interface TransformerBlockArgs {
  /** Model width d; the MLP's hidden width is 4d. */
  units: number;
  /** Attention heads; must divide `units`. */
  heads: number;
  /** SeededDropout rate on the two residual branches (0: none). */
  dropout: number;
  /** Init stddev of the QKV and first MLP kernels (GPT-2: 0.02). */
  stddev: number;
  /** Init stddev of the two kernels that write into the residual stream (GPT-2: 0.02/√(2L)). */
  residualStddev: number;
  /** Seeds the four kernels' initializers. */
  seeds: [number, number, number, number];
  name?: string;
}

/**
 * One pre-LayerNorm GPT block on `[b, t, d]`:
 * x += proj(attention(LN₁(x))); x += W₂ · GELU(W₁ · LN₂(x) + b₁) + b₂, with causal multi-head
 * self-attention softmax(q·kᵀ/√(d/h) + mask)·v. Weights (PyTorch nanoGPT layout, kernels
 * `[in, out]`): `ln1_gamma`, `ln1_beta`, `attn_kernel [d, 3d]` (q | k | v, heads contiguous),
 * `attn_bias`, `proj_kernel [d, d]`, `proj_bias`, `ln2_gamma`, `ln2_beta`, `fc_kernel [d, 4d]`,
 * `fc_bias`, `out_kernel [4d, d]`, `out_bias`: 12d² + 13d parameters. Biases start at 0, gammas
 * at 1. Dropout (training only) is applied to each residual branch, not to the attention weights.
 */
export class TransformerBlock extends tf.layers.Layer {
  static className = 'TransformerBlock';
  readonly units: number;
  readonly heads: number;
  readonly dropout: number;
  readonly stddev: number;
  readonly residualStddev: number;
  readonly seeds: [number, number, number, number];
  private w: Record<string, tf.LayerVariable> = {};
  private readonly branchDropout: SeededDropout | null;

  constructor(args: TransformerBlockArgs) {
    super(args);
    if (args.units % args.heads !== 0) {
      throw new Error(`TransformerBlock: heads ${args.heads} must divide units ${args.units}`);
    }
    this.units = args.units;
    this.heads = args.heads;
    this.dropout = args.dropout;
    this.stddev = args.stddev;
    this.residualStddev = args.residualStddev;
    this.seeds = [...args.seeds];
    this.branchDropout = args.dropout > 0 ? new SeededDropout({ rate: args.dropout }) : null;
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    const d = this.units;
    const [s0, s1, s2, s3] = this.seeds;
    const normal = (stddev: number, seed: number) =>
      tf.initializers.randomNormal({ mean: 0, stddev, seed });
    const add = (name: string, shape: number[], init: ReturnType<typeof tf.initializers.ones>) => {
      this.w[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('ln1_gamma', [d], tf.initializers.ones());
    add('ln1_beta', [d], tf.initializers.zeros());
    add('attn_kernel', [d, 3 * d], normal(this.stddev, s0));
    add('attn_bias', [3 * d], tf.initializers.zeros());
    add('proj_kernel', [d, d], normal(this.residualStddev, s1));
    add('proj_bias', [d], tf.initializers.zeros());
    add('ln2_gamma', [d], tf.initializers.ones());
    add('ln2_beta', [d], tf.initializers.zeros());
    add('fc_kernel', [d, 4 * d], normal(this.stddev, s2));
    add('fc_bias', [4 * d], tf.initializers.zeros());
    add('out_kernel', [4 * d, d], normal(this.residualStddev, s3));
    add('out_bias', [d], tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, t, d] = x.shape;
      if (d !== this.units) {
        throw new Error(`${this.name}: expected width ${this.units}, got [${x.shape}]`);
      }
      const w = (name: string) => (this.w[name] as tf.LayerVariable).read();
      const h = this.heads;
      const hd = d / h;
      const branch = (y: tf.Tensor) =>
        this.branchDropout === null
          ? y
          : (this.branchDropout.apply(y, { training: kwargs?.training === true }) as tf.Tensor);

      const x0 = tf.reshape(x, [b * t, d]);
      const qkv = linear(
        layerNorm(x0, w('ln1_gamma'), w('ln1_beta')),
        w('attn_kernel'),
        w('attn_bias'),
      );
      // [b·t, d] → [b, h, t, hd] for each of q, k, v.
      const splitHeads = (m: tf.Tensor) => tf.transpose(tf.reshape(m, [b, t, h, hd]), [0, 2, 1, 3]);
      const [q, k, v] = tf.split(qkv, 3, 1).map(splitHeads) as [
        tf.Tensor4D,
        tf.Tensor4D,
        tf.Tensor4D,
      ];
      const scores = matMulTransposedB(q, k);
      const scale = 1 / Math.sqrt(hd);
      const attention =
        causalSoftmax(scores, scale) ?? tf.softmax(tf.add(tf.mul(scores, scale), causalMask(t)));
      const mixed = tf.reshape(tf.transpose(tf.matMul(attention, v), [0, 2, 1, 3]), [b * t, d]);
      const x1 = tf.add(x0, branch(linear(mixed, w('proj_kernel'), w('proj_bias'))));

      const hidden = gelu(
        linear(layerNorm(x1, w('ln2_gamma'), w('ln2_beta')), w('fc_kernel'), w('fc_bias')),
      );
      const x2 = tf.add(x1, branch(linear(hidden, w('out_kernel'), w('out_bias'))));
      return tf.reshape(x2, [b, t, d]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      heads: this.heads,
      dropout: this.dropout,
      stddev: this.stddev,
      residualStddev: this.residualStddev,
      seeds: [...this.seeds],
    };
  }
}
tf.serialization.registerClass(TransformerBlock);

export interface LayerNormArgs {
  units: number;
  name?: string;
}

/** `layerNorm` as a layer with weights `gamma` (ones) and `beta` (zeros): GPT's final `ln_f`. */
export class LayerNorm extends tf.layers.Layer {
  static className = 'WeightPredictionLayerNorm';
  readonly units: number;
  private gamma: tf.LayerVariable | undefined;
  private beta: tf.LayerVariable | undefined;

  constructor(args: LayerNormArgs) {
    super(args);
    this.units = args.units;
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    this.gamma = this.addWeight('gamma', [this.units], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    return layerNorm(
      x,
      (this.gamma as tf.LayerVariable).read(),
      (this.beta as tf.LayerVariable).read(),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}
tf.serialization.registerClass(LayerNorm);
