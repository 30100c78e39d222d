import * as tf from '@tensorflow/tfjs';
import { spatialMean } from '../kernels/global-pool.js';
import { subsamplePad } from '../kernels/shortcut.js';
import { matMulTransposedB } from '../kernels/matmul.js';

type LayerInstance = tf.layers.Layer;

export interface TiedOutputProjectionArgs {
  /** Number of output logits (the vocabulary size). */
  units: number;
  /** Name of the embedding layer whose `[units, hidden]` matrix this layer reuses. */
  tiedTo: string;
  /** Adds a trainable bias of `units` zeros (default true). */
  useBias?: boolean;
  name?: string;
  /** The embedding layer itself, when known; otherwise it is found by name in the graph. */
  embedding?: LayerInstance;
}

/**
 * Output projection with weights tied to an embedding (Press & Wolf 2017; Inan et al. 2017):
 * `logits = x · Eᵀ + b`, where `E` is the embedding layer's `[vocab, hidden]` matrix. The layer
 * reads the embedding layer's variable instead of owning a copy, so the model has one variable for
 * both uses and its gradient is the sum of both. Only the bias belongs to this layer.
 *
 * After deserialization the embedding layer is found by walking this layer's inbound graph back to
 * the layer named `tiedTo` (the embedding sits upstream of the projection in a language model).
 */
export class TiedOutputProjection extends tf.layers.Layer {
  static className = 'TiedOutputProjection';
  readonly units: number;
  readonly tiedTo: string;
  readonly useBias: boolean;
  private embedding: LayerInstance | undefined;
  private bias: tf.LayerVariable | undefined;

  constructor(args: TiedOutputProjectionArgs) {
    super(args);
    this.units = args.units;
    this.tiedTo = args.tiedTo;
    this.useBias = args.useBias ?? true;
    this.embedding = args.embedding;
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  /** The embedding matrix `[units, hidden]`, a live variable (not a copy). */
  embeddingMatrix(): tf.Tensor {
    const layer = this.resolveEmbedding();
    const weight = layer.trainableWeights[0];
    if (weight === undefined) {
      throw new Error(`TiedOutputProjection: layer '${this.tiedTo}' has no trainable weight`);
    }
    return weight.read();
  }

  private resolveEmbedding(): LayerInstance {
    if (this.embedding !== undefined) return this.embedding;
    // Breadth-first search upstream through the functional graph.
    const seen = new Set<LayerInstance>();
    const queue: LayerInstance[] = [this];
    while (queue.length > 0) {
      const layer = queue.shift() as LayerInstance;
      for (const node of layer.inboundNodes) {
        for (const upstream of node.inboundLayers) {
          if (seen.has(upstream)) continue;
          if (upstream.name === this.tiedTo) {
            this.embedding = upstream;
            return upstream;
          }
          seen.add(upstream);
          queue.push(upstream);
        }
      }
    }
    throw new Error(
      `TiedOutputProjection '${this.name}': no upstream layer named '${this.tiedTo}' to tie to`,
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x === undefined) throw new Error('TiedOutputProjection expects one input tensor');
      const e = this.embeddingMatrix();
      const hidden = x.shape[x.shape.length - 1] as number;
      if (e.shape[1] !== hidden || e.shape[0] !== this.units) {
        throw new Error(
          `TiedOutputProjection: embedding is [${e.shape}], expected [${this.units}, ${hidden}]`,
        );
      }
      const flat = tf.reshape(x, [-1, hidden]);
      let y = matMulTransposedB(flat, e);
      if (this.bias !== undefined) y = tf.add(y, this.bias.read());
      return tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, tiedTo: this.tiedTo, useBias: this.useBias };
  }
}
tf.serialization.registerClass(TiedOutputProjection);

export interface ZeroPadShortcutArgs {
  /** Spatial subsampling factor (1 or 2). */
  strides: number;
  /** Output channels; the extra channels beyond the input's are zeros. */
  filters: number;
  name?: string;
}

/**
 * He et al. (2016) option-A shortcut: subsample the input spatially (take every `strides`-th
 * pixel, as a stride-2 1×1 convolution with identity weights would) and zero-pad the channels up to
 * `filters`. Parameter-free. One kernel each way where the backend has it (kernels/shortcut.ts),
 * else reshape/slice/pad, which have gradients on every backend.
 */
export class ZeroPadShortcut extends tf.layers.Layer {
  static className = 'ZeroPadShortcut';
  readonly strides: number;
  readonly filters: number;

  constructor(args: ZeroPadShortcutArgs) {
    super(args);
    this.strides = args.strides;
    this.filters = args.filters;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[3];
    if (shape.length !== 4 || typeof channels !== 'number' || channels > this.filters) {
      throw new Error(
        `${this.name}: expects NHWC input with at most ${this.filters} channels, got [${shape}]`,
      );
    }
    if (!Number.isInteger(this.strides) || this.strides < 1) {
      throw new Error(`${this.name}: strides must be a positive integer, got ${this.strides}`);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const sub = (d: number | null | undefined) =>
      d === null || d === undefined ? null : Math.ceil(d / this.strides);
    return [b ?? null, sub(h), sub(w), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const fused = subsamplePad(x, this.strides, this.filters);
      if (fused !== null) return fused;
      const [b, h, w, c] = x.shape;
      const s = this.strides;
      let y: tf.Tensor4D = x;
      if (s > 1) {
        const ho = Math.ceil(h / s);
        const wo = Math.ceil(w / s);
        // Pad to a multiple of s, view as [b·ho, s, wo, s·c] and keep offset 0 of each s×s
        // window: x[:, ::s, ::s, :] from 4-D ops whose gradients exist on every backend.
        const padded = tf.pad(x, [
          [0, 0],
          [0, ho * s - h],
          [0, wo * s - w],
          [0, 0],
        ]);
        const windows = tf.reshape(padded, [b * ho, s, wo, s * c]);
        y = tf.reshape(tf.slice(windows, [0, 0, 0, 0], [b * ho, 1, wo, c]), [b, ho, wo, c]);
      }
      if (this.filters > c) {
        y = tf.pad(y, [
          [0, 0],
          [0, 0],
          [0, 0],
          [0, this.filters - c],
        ]);
      }
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), strides: this.strides, filters: this.filters };
  }
}
tf.serialization.registerClass(ZeroPadShortcut);

/**
 * `tf.layers.add` (same class, config and weights: none) without its copy of the first input:
 * the stock layer sums onto `inputs[0].clone()`, whose gradient is one more full-size copy (a
 * cast on wasm) at every residual connection of a ResNet.
 */
export function addLayer(args: { name?: string } = {}): tf.layers.Layer {
  const layer = tf.layers.add(args);
  (layer as unknown as { mergeFunction(inputs: tf.Tensor[]): tf.Tensor }).mergeFunction = (
    inputs,
  ) => tf.tidy(() => inputs.slice(1).reduce((sum, x) => tf.add(sum, x), inputs[0]!));
  return layer;
}

/**
 * `tf.layers.globalAveragePooling2d` (same class, config and weights: none) whose NHWC mean runs as
 * one op where the backend has it (kernels/global-pool.ts), the stock layer's call elsewhere.
 */
export function globalAveragePooling2d(
  args: Parameters<typeof tf.layers.globalAveragePooling2d>[0],
): tf.layers.Layer {
  const layer = tf.layers.globalAveragePooling2d(args);
  const stockCall = layer.call.bind(layer);
  const channelsLast = (args.dataFormat ?? 'channelsLast') === 'channelsLast';
  layer.call = (inputs, kwargs) => {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return (channelsLast && x.rank === 4 && spatialMean(x)) || stockCall(inputs, kwargs);
  };
  return layer;
}
