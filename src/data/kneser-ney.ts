import { UserInputError } from '../errors.js';
import { batchify, type Batchified } from './batching.js';
import type { LanguageModelCorpus } from './types.js';

/**
 * An interpolated Kneser–Ney bigram language model over token ids `0 … vocabSize − 1`, the
 * count-based baseline a neural language model must beat on the same tokens (Chen & Goodman 1998,
 * "An empirical study of smoothing techniques for language modeling", interpolated KN):
 *
 *   P(w | v) = max(c(v w) − D, 0) / c(v) + D · N₁₊(v •) / c(v) · P₁(w)      (c(v) > 0)
 *   P(w | v) = P₁(w)                                                       (c(v) = 0)
 *   P₁(w)    = max(N₁₊(• w) − D₁, 0) / N₁₊(• •) + D₁ · T / N₁₊(• •) · 1 / V
 *
 * with c(v w) the count of the pair, c(v) = Σ_w c(v w), N₁₊(v •) the number of distinct words after
 * v, N₁₊(• w) the number of distinct words before w (the continuation count), N₁₊(• •) the number
 * of distinct pairs, T the number of words with N₁₊(• w) > 0 and V the vocabulary size. The
 * continuation distribution is itself discounted and interpolated with the uniform one, so every
 * word of the vocabulary, even one never seen in training, has a probability above zero.
 */
export interface KneserNeyBigram {
  vocabSize: number;
  /** D, the discount of the pair counts. */
  discount: number;
  /** D₁, the discount of the continuation counts. */
  unigramDiscount: number;
  /** Training pairs the counts come from. */
  pairs: number;
  /** P(next | prev), in float64. */
  probability(prev: number, next: number): number;
}

export interface KneserNeyOptions {
  /**
   * One absolute discount in (0, 1] for both levels (default 0.75, the customary value), or
   * `'estimate'`: each level's Chen–Goodman estimate D = n₁ / (n₁ + 2 n₂), from the number of pair
   * types (or words, for the continuation counts) counted once (n₁) and twice (n₂), which is
   * undefined (an error) when no count is 1.
   */
  discount?: number | 'estimate';
}

/** The discount of both levels unless told otherwise. */
export const DEFAULT_KNESER_NEY_DISCOUNT = 0.75;

/**
 * The (previous, next) pairs of a batchified token array, as a language model reads them: in each
 * of the `batchSize` streams, every token but the last is followed by its successor; no pair
 * crosses from one stream to the next, and tokens past `stepsPerStream · batchSize` are not read
 * (see `batchify` and `bpttWindow`).
 */
function forEachPair(streams: Batchified, visit: (prev: number, next: number) => void): number {
  const { data, batchSize, stepsPerStream } = streams;
  for (let b = 0; b < batchSize; b++) {
    const row = b * stepsPerStream;
    for (let i = 0; i + 1 < stepsPerStream; i++) visit(data[row + i]!, data[row + i + 1]!);
  }
  return batchSize * (stepsPerStream - 1);
}

function checkId(id: number, vocabSize: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new UserInputError(
      `${what} token id ${String(id)} is outside the vocabulary [0, ${vocabSize})`,
    );
  }
}

/** Chen–Goodman's D = n₁ / (n₁ + 2 n₂) from counts; throws when no count is 1 (D would be 0). */
function estimateDiscount(counts: Iterable<number>, what: string): number {
  let n1 = 0;
  let n2 = 0;
  for (const c of counts) {
    if (c === 1) n1++;
    else if (c === 2) n2++;
  }
  if (n1 === 0) {
    throw new UserInputError(
      `cannot estimate the Kneser-Ney discount of the ${what}: none is counted once (n1 = 0, D would be 0); pass a fixed discount such as 0.75`,
    );
  }
  return n1 / (n1 + 2 * n2);
}

/** Counts the training pairs of `train` (see `forEachPair`) into an interpolated KN bigram. */
export function trainKneserNeyBigram(
  train: Batchified,
  vocabSize: number,
  options: KneserNeyOptions = {},
): KneserNeyBigram {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new UserInputError(`vocabSize must be a positive integer, got ${String(vocabSize)}`);
  }
  const choice = options.discount ?? DEFAULT_KNESER_NEY_DISCOUNT;
  if (choice !== 'estimate' && !(typeof choice === 'number' && choice > 0 && choice <= 1)) {
    throw new UserInputError(
      `the Kneser-Ney discount must be a number in (0, 1] or 'estimate', got ${String(choice)}`,
    );
  }
  const fixed = choice === 'estimate' ? undefined : choice;
  // Pair counts keyed by prev · V + next (exact in float64 for V up to 2^26).
  const pairCounts = new Map<number, number>();
  const pairs = forEachPair(train, (prev, next) => {
    checkId(prev, vocabSize, 'training');
    checkId(next, vocabSize, 'training');
    const key = prev * vocabSize + next;
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + 1);
  });
  if (pairs === 0) throw new UserInputError('the training tokens hold no (previous, next) pair');
  const contextCount = new Float64Array(vocabSize); // c(v)
  const followers = new Float64Array(vocabSize); // N₁₊(v •)
  const continuation = new Float64Array(vocabSize); // N₁₊(• w)
  for (const [key, count] of pairCounts) {
    const prev = Math.floor(key / vocabSize);
    const next = key - prev * vocabSize;
    contextCount[prev]! += count;
    followers[prev]! += 1;
    continuation[next]! += 1;
  }
  const types = pairCounts.size; // N₁₊(• •)
  let seenWords = 0; // T
  for (let w = 0; w < vocabSize; w++) if (continuation[w]! > 0) seenWords++;
  const discount = fixed ?? estimateDiscount(pairCounts.values(), 'pair counts');
  const unigramDiscount = fixed ?? estimateDiscount(continuation, 'continuation counts');
  const lower = new Float64Array(vocabSize); // P₁(w)
  const uniform = (unigramDiscount * seenWords) / types / vocabSize;
  for (let w = 0; w < vocabSize; w++) {
    lower[w] = Math.max(continuation[w]! - unigramDiscount, 0) / types + uniform;
  }
  return {
    vocabSize,
    discount,
    unigramDiscount,
    pairs,
    probability(prev: number, next: number): number {
      checkId(prev, vocabSize, 'previous');
      checkId(next, vocabSize, 'next');
      const c = contextCount[prev]!;
      if (c === 0) return lower[next]!;
      const pair = pairCounts.get(prev * vocabSize + next) ?? 0;
      return Math.max(pair - discount, 0) / c + ((discount * followers[prev]!) / c) * lower[next]!;
    },
  };
}

/**
 * Perplexity exp(−mean ln P(next | prev)) of `model` over the pairs of `heldOut` (see
 * `forEachPair`): the pairs a language model's perplexity is computed over when it reads the same
 * batchified tokens (`trainLanguageModel` evaluates `batchify(split, evalBatchSize)`).
 */
export function kneserNeyPerplexity(model: KneserNeyBigram, heldOut: Batchified): number {
  let logSum = 0;
  const pairs = forEachPair(heldOut, (prev, next) => {
    logSum += Math.log(model.probability(prev, next));
  });
  return Math.exp(-logSum / pairs);
}

/** The Kneser–Ney bigram baseline of a language-model run (see `kneserNeyBaseline`). */
export interface KneserNeyBaseline {
  discount: number;
  unigramDiscount: number;
  /** Training pairs counted. */
  trainPairs: number;
  /** On each held-out split long enough for `evalStreams` streams of 2 tokens. */
  perplexity: { validation?: number; test?: number };
}

/**
 * The bigram a language model must beat, on its own tokens: trained on the pairs of
 * `batchify(corpus.train, trainStreams)` (the pairs the model trains on), evaluated on those of
 * `batchify(split, evalStreams)` for the validation and test splits (the pairs its perplexity is
 * computed over), with the default discount. `<eos>` and `<unk>` are words like the others, as
 * they are to the model.
 */
export function kneserNeyBaseline(
  corpus: LanguageModelCorpus,
  trainStreams: number,
  evalStreams: number,
): KneserNeyBaseline {
  const model = trainKneserNeyBigram(batchify(corpus.train, trainStreams), corpus.vocab.length);
  const perplexity: KneserNeyBaseline['perplexity'] = {};
  for (const [key, ids] of [
    ['validation', corpus.valid],
    ['test', corpus.test],
  ] as const) {
    if (Math.floor(ids.length / evalStreams) >= 2) {
      perplexity[key] = kneserNeyPerplexity(model, batchify(ids, evalStreams));
    }
  }
  return {
    discount: model.discount,
    unigramDiscount: model.unigramDiscount,
    trainPairs: model.pairs,
    perplexity,
  };
}
