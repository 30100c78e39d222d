import * as tf from '@tensorflow/tfjs';
import { sparseSoftmaxCrossEntropy } from '../kernels/cross-entropy.js';
import { batchify, bpttWindow, bpttWindowCount } from '../data/batching.js';
import { kneserNeyBaseline } from '../data/kneser-ney.js';
import { corpusStats } from '../data/text.js';
import type { LanguageModelCorpus } from '../data/types.js';
import { UserInputError } from '../errors.js';
import type { SequenceLanguageModel } from '../models/types.js';
import type { CorpusSummary } from './log-format.js';
import {
  checkTrainOptions,
  train,
  type TaskAdapter,
  type TrainOptions,
  type TrainResult,
} from './loop.js';

export interface LanguageModelTrainOptions extends TrainOptions {
  /** An LSTM (state carried across windows) or a Transformer (each window on its own). */
  model: SequenceLanguageModel;
  corpus: LanguageModelCorpus;
  /** Tokens per BPTT window (default 35). `batchSize` is the number of parallel token streams. */
  bptt?: number;
  /** Held-out split for the per-epoch perplexity (default 'valid'). */
  evalSplit?: 'valid' | 'test';
  /** Parallel streams during evaluation (default 10, the classic PTB setting). */
  evalBatchSize?: number;
}

/** Mean softmax cross-entropy over all B·T tokens, from `[B, T, V]` logits and `[B, T]` targets. */
export function languageModelLoss(
  logits: tf.Tensor,
  targets: tf.Tensor,
  vocabSize: number,
): tf.Scalar {
  return tf.tidy(() => {
    const flat = logits.reshape([-1, vocabSize]);
    // One fused op where the backend has it (wasm with the native addon), else the stock ops.
    const fused = sparseSoftmaxCrossEntropy(
      flat as tf.Tensor2D,
      targets.reshape([-1]).toInt() as tf.Tensor1D,
    );
    if (fused) return fused;
    const oneHot = tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, vocabSize).toFloat();
    return tf.losses.softmaxCrossEntropy(oneHot, flat) as tf.Scalar;
  });
}

/** Runs `lm` on one window: the logits and the final state (`[]` for a stateless model). */
function applyWindow(
  lm: SequenceLanguageModel,
  tokens: tf.Tensor,
  state: tf.Tensor[],
  training: boolean,
): { logits: tf.Tensor; state: tf.Tensor[] } {
  // A single-output model (a Transformer) returns its tensor bare, not in an array.
  const out = lm.model.apply(state.length === 0 ? tokens : [tokens, ...state], { training });
  const [logits, ...next] = (Array.isArray(out) ? out : [out]) as tf.Tensor[];
  return { logits: logits!, state: next };
}

/**
 * Trains a sequence language model with truncated BPTT: the training split is laid out as
 * `batchSize` streams read in windows of `bptt` tokens; the hidden state is carried from one window
 * to the next as plain tensors (no gradient flows back across windows) and reset to zeros at each
 * epoch; a stateless model (a Transformer) reads each window on its own. After each epoch it reports perplexity = exp(mean loss per token) on `evalSplit`.
 */
export async function trainLanguageModel(options: LanguageModelTrainOptions): Promise<TrainResult> {
  const { model: lm, corpus } = options;
  if (!lm || !(lm.model instanceof tf.LayersModel) || typeof lm.zeroState !== 'function') {
    throw new UserInputError(
      'Invalid model: pass a language model from buildLstmLanguageModel() or buildTransformerLanguageModel()',
    );
  }
  if (!corpus || !(corpus.train instanceof Int32Array)) {
    throw new UserInputError(
      'Invalid corpus: pass a LanguageModelCorpus with Int32Array token splits',
    );
  }
  const bptt = options.bptt ?? 35;
  if (!Number.isInteger(bptt) || bptt < 1) {
    throw new UserInputError(`Invalid bptt ${bptt}: expected an integer >= 1 (e.g. 35)`);
  }
  if (lm.contextLength !== undefined && bptt > lm.contextLength) {
    throw new UserInputError(
      `Invalid bptt ${bptt}: longer than the model's context of ${lm.contextLength} tokens; use bptt <= ${lm.contextLength}`,
    );
  }
  const evalSplit = options.evalSplit ?? 'valid';
  if (evalSplit !== 'valid' && evalSplit !== 'test') {
    throw new UserInputError(
      `Invalid evalSplit ${JSON.stringify(evalSplit)}: use 'valid' or 'test'`,
    );
  }
  const evalBatchSize = options.evalBatchSize ?? 10;
  if (!Number.isInteger(evalBatchSize) || evalBatchSize < 1) {
    throw new UserInputError(`Invalid evalBatchSize ${evalBatchSize}: expected an integer >= 1`);
  }
  if (lm.vocabSize !== corpus.vocab.length) {
    throw new UserInputError(
      `The model's vocabulary (${lm.vocabSize}) differs from the corpus's (${corpus.vocab.length}): build the model with vocabSize ${corpus.vocab.length}`,
    );
  }
  // Each stream needs at least one (input, target) pair: two tokens.
  const maxStreams = Math.floor(corpus.train.length / 2);
  checkTrainOptions(
    options,
    maxStreams,
    `each of the batchSize streams needs at least 2 of the ${corpus.train.length} training tokens`,
  );
  const heldOut = corpus[evalSplit];
  if (!(heldOut instanceof Int32Array) || Math.floor(heldOut.length / evalBatchSize) < 2) {
    throw new UserInputError(
      `The ${evalSplit} split (${heldOut?.length ?? 0} tokens) is too short for evalBatchSize ${evalBatchSize}: use a smaller evalBatchSize`,
    );
  }

  const { batchSize } = options;
  const trainStreams = batchify(corpus.train, batchSize);
  const batchesPerEpoch = bpttWindowCount(trainStreams, bptt);
  const V = lm.vocabSize;
  const stats = corpusStats(corpus);
  const corpusSummary: CorpusSummary = {
    vocabSize: stats.vocabSize,
    tokens: { train: stats.tokens.train, validation: stats.tokens.valid, test: stats.tokens.test },
    unkRate: {
      train: stats.unkRate.train,
      validation: stats.unkRate.valid,
      test: stats.unkRate.test,
    },
    kneserNeyBigram: kneserNeyBaseline(corpus, batchSize, evalBatchSize),
  };
  let carry: tf.Tensor[] = [];
  const setCarry = (next: tf.Tensor[]) => {
    tf.dispose(carry);
    carry = next;
  };

  const adapter: TaskAdapter = {
    task: corpus.name,
    metric: 'perplexity',
    evaluatedOn: evalSplit === 'valid' ? 'validation' : 'test',
    higherIsBetter: false,
    unit: 'tokens',
    model: lm.model,
    batchesPerEpoch,
    corpus: corpusSummary,
    config: {
      corpus: corpus.name,
      vocabSize: V,
      trainTokens: corpus.train.length,
      heldOutTokens: heldOut.length,
      bptt,
      evalSplit,
      evalBatchSize,
    },
    beginEpoch() {
      setCarry(lm.zeroState(batchSize));
    },
    batch(index) {
      const w = bpttWindow(trainStreams, index, bptt);
      const x = tf.tensor2d(w.input, [batchSize, w.seqLen], 'int32');
      const y = tf.tensor2d(w.target, [batchSize, w.seqLen], 'int32');
      let next: tf.Tensor[] | undefined;
      return {
        loss: () => {
          const { logits, state } = applyWindow(lm, x, carry, true);
          // Kept out of minimize's scope and fed to the next window as plain tensors: no gradient
          // flows back across windows (truncated BPTT).
          next = state.map((s) => tf.keep(s));
          return languageModelLoss(logits, y, V);
        },
        size: batchSize * w.seqLen,
        finish: () => {
          tf.dispose([x, y]);
          if (next) setCarry(next);
        },
      };
    },
    carried: () => carry,
    setCarried: setCarry,
    async evaluate() {
      const held = batchify(heldOut, evalBatchSize);
      let state = lm.zeroState(evalBatchSize);
      let lossSum = 0;
      let tokens = 0;
      try {
        for (let index = 0; index < bpttWindowCount(held, bptt); index++) {
          const w = bpttWindow(held, index, bptt);
          const [loss, ...next] = tf.tidy(() => {
            const x = tf.tensor2d(w.input, [evalBatchSize, w.seqLen], 'int32');
            const y = tf.tensor2d(w.target, [evalBatchSize, w.seqLen], 'int32');
            const out = applyWindow(lm, x, state, false);
            return [languageModelLoss(out.logits, y, V), ...out.state];
          });
          tf.dispose(state);
          state = next;
          // Weighted by tokens: the last window can be shorter.
          lossSum += (await loss!.data())[0]! * evalBatchSize * w.seqLen;
          tokens += evalBatchSize * w.seqLen;
          loss!.dispose();
        }
      } finally {
        tf.dispose(state);
      }
      const mean = lossSum / tokens;
      return { loss: mean, metric: Math.exp(mean) };
    },
    dispose() {
      setCarry([]);
    },
  };
  try {
    return await train(adapter, options);
  } finally {
    adapter.dispose();
  }
}
