import type * as tf from '@tensorflow/tfjs';

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
export interface RecurrentLanguageModel {
  model: tf.LayersModel;
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  /** Zeros for `initialState`, `2 * layers` tensors; the caller disposes them. */
  zeroState(batchSize: number): tf.Tensor[];
}
