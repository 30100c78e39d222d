import type * as tf from '@tensorflow/tfjs';

/**
 * A language model the training loop can drive (training/language-model.ts): `model` maps a token
 * window `[batch, seqLen]` (int32) and its initial state to logits `[batch, seqLen, vocabSize]`
 * and the final state. A stateless model (a Transformer) has no state: inputs `[tokens]`, output
 * the logits alone, and `zeroState` returns `[]`.
 */
export interface SequenceLanguageModel {
  model: tf.LayersModel;
  vocabSize: number;
  /** The longest window the model reads (its learned positions); absent when unbounded. */
  contextLength?: number;
  /** Initial state for `batchSize` streams (`[]` when stateless); the caller disposes them. */
  zeroState(batchSize: number): tf.Tensor[];
}

/**
 * A recurrent language model whose hidden state is explicit, so a training loop can carry it across
 * BPTT windows (the classic PTB setup) without tfjs-layers' stateful mode.
 *
 * `model` has inputs `[tokens, ...initialState]` and outputs `[logits, ...finalState]`:
 * - tokens: int32 `[batch, seqLen]`
 * - initialState / finalState: `2 * layers` float32 tensors `[batch, hiddenSize]`, ordered
 *   `h0, c0, h1, c1, ...`
 * - logits: float32 `[batch, seqLen, vocabSize]`
 */
export interface RecurrentLanguageModel extends SequenceLanguageModel {
  model: tf.LayersModel;
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  /** Zeros for `initialState`, `2 * layers` tensors; the caller disposes them. */
  zeroState(batchSize: number): tf.Tensor[];
}
