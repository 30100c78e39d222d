import { describe, expect, it } from 'vitest';
import { batchify } from '../../src/data/batching.js';
import {
  kneserNeyBaseline,
  kneserNeyPerplexity,
  trainKneserNeyBigram,
} from '../../src/data/kneser-ney.js';
import { UserInputError } from '../../src/errors.js';

// Ids: 0 <unk>, 1 <eos>, 2 a, 3 b. One stream "a b a b <eos> a a <eos>".
const UNK = 0;
const EOS = 1;
const A = 2;
const B = 3;
const V = 4;
const train = batchify(Int32Array.from([A, B, A, B, EOS, A, A, EOS]), 1);

describe('interpolated Kneser-Ney bigram', () => {
  it('gives the hand-worked probabilities of a tiny corpus (D = 0.75)', () => {
    // Pairs: a b ×2, b a, b <eos>, <eos> a, a a, a <eos>: 7 pairs, 6 types.
    // c(a) = 4, N1+(a •) = 3; c(b) = 2, N1+(b •) = 2; c(<eos>) = 1, N1+(<eos> •) = 1; c(<unk>) = 0.
    // Continuation counts N1+(• w): a 3 (b, <eos>, a), b 1 (a), <eos> 2 (b, a), <unk> 0; T = 3.
    // P1(w) = max(N1+(• w) − 3/4, 0) / 6 + (3/4 · 3 / 6) / 4, the last term 3/32:
    //   <unk> 3/32, <eos> 5/24 + 3/32 = 29/96, a 3/8 + 3/32 = 15/32, b 1/24 + 3/32 = 13/96.
    // P(w | a) = max(c(a w) − 3/4, 0) / 4 + (3/4 · 3 / 4) P1(w) = ... + 9/16 P1(w):
    //   b: 5/16 + 117/1536 = 199/512; a: 1/16 + 135/512 = 167/512; <eos>: 1/16 + 87/512 = 119/512;
    //   <unk>: 27/512.
    // P(w | b) = max(c(b w) − 3/4, 0) / 2 + (3/4 · 2 / 2) P1(w):
    //   a: 1/8 + 45/128 = 61/128; <eos>: 1/8 + 29/128 = 45/128; b: 13/128; <unk>: 9/128.
    // P(w | <eos>) = max(c − 3/4, 0) / 1 + 3/4 · P1(w): a 1/4 + 45/128 = 77/128; <eos> 29/128;
    //   b 13/128; <unk> 9/128. P(w | <unk>) = P1(w) (an unseen context).
    const model = trainKneserNeyBigram(train, V); // the default discount, 0.75
    expect(model.discount).toBe(0.75);
    expect(model.unigramDiscount).toBe(0.75);
    expect(model.pairs).toBe(7);
    const expected: Record<number, Record<number, number>> = {
      [UNK]: { [UNK]: 3 / 32, [EOS]: 29 / 96, [A]: 15 / 32, [B]: 13 / 96 },
      [EOS]: { [UNK]: 9 / 128, [EOS]: 29 / 128, [A]: 77 / 128, [B]: 13 / 128 },
      [A]: { [UNK]: 27 / 512, [EOS]: 119 / 512, [A]: 167 / 512, [B]: 199 / 512 },
      [B]: { [UNK]: 9 / 128, [EOS]: 45 / 128, [A]: 61 / 128, [B]: 13 / 128 },
    };
    for (const prev of [UNK, EOS, A, B]) {
      for (const next of [UNK, EOS, A, B]) {
        expect(model.probability(prev, next), `P(${next} | ${prev})`).toBeCloseTo(
          expected[prev]![next]!,
          14,
        );
      }
    }
  });

  it("estimates Chen-Goodman's discounts n1 / (n1 + 2 n2) per level", () => {
    // Pair counts 2, 1, 1, 1, 1, 1: n1 = 5, n2 = 1 → 5/7. Continuation counts 3, 1, 2: 1/3.
    const model = trainKneserNeyBigram(train, V, { discount: 'estimate' });
    expect(model.discount).toBeCloseTo(5 / 7, 15);
    expect(model.unigramDiscount).toBeCloseTo(1 / 3, 15);
    // P(b | a) = (2 − 5/7) / 4 + (5/7 · 3/4) · P1(b), P1(b) = (1 − 1/3) / 6 + (1/3 · 3 / 6) / 4
    // = 1/9 + 1/24 = 11/72.
    expect(model.probability(A, B)).toBeCloseTo(9 / 28 + (15 / 28) * (11 / 72), 14);
  });

  it('sums to 1 over the vocabulary in every context, seen or not (1e-9, float64)', () => {
    // A larger random corpus: 200 words, skewed draws, 3 streams; words 190-199 never occur.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const ids = Int32Array.from({ length: 3000 }, () => Math.floor(190 * next() ** 3));
    const vocab = 200;
    for (const options of [{}, { discount: 'estimate' as const }, { discount: 1 }]) {
      const model = trainKneserNeyBigram(batchify(ids, 3), vocab, options);
      for (const prev of [0, 1, 7, 30, 120, 189, 190, 199]) {
        let sum = 0;
        for (let w = 0; w < vocab; w++) {
          const p = model.probability(prev, w);
          expect(p).toBeGreaterThan(0);
          sum += p;
        }
        expect(Math.abs(sum - 1), `context ${prev}, ${JSON.stringify(options)}`).toBeLessThan(1e-9);
      }
    }
  });

  it('gives a finite perplexity on held-out text with unseen pairs and words', () => {
    const model = trainKneserNeyBigram(train, V, { discount: 0.75 });
    // Pairs b b (unseen), b <unk> (<unk> never seen), <unk> a (unseen context).
    const heldOut = batchify(Int32Array.from([B, B, UNK, A]), 1);
    const perplexity = kneserNeyPerplexity(model, heldOut);
    expect(Number.isFinite(perplexity)).toBe(true);
    expect(perplexity).toBeCloseTo(((13 / 128) * (9 / 128) * (15 / 32)) ** (-1 / 3), 10);
  });

  it('reads pairs within streams only, as the language model does', () => {
    // Two streams "a b a b" | "<eos> a a <eos>": the pair b <eos> across them is not counted.
    const two = trainKneserNeyBigram(batchify(train.data, 2), V, { discount: 0.75 });
    expect(two.pairs).toBe(6);
    // c(b) = 1 (b a only), so P(<eos> | b) = 0 + 3/4 · 1 · P1(<eos>), P1 from 5 types:
    // N1+(• <eos>) = 1 (a), T = 3 (b, a, <eos>): P1(<eos>) = 1/4 / 5 + (3/4 · 3 / 5) / 4 = 13/80.
    expect(two.probability(B, EOS)).toBeCloseTo((3 / 4) * (13 / 80), 14);
    // Held out: tokens past stepsPerStream · streams are not read (5 tokens, 2 streams of 2).
    const held = batchify(Int32Array.from([A, B, A, B, UNK]), 2);
    expect(kneserNeyPerplexity(two, held)).toBeCloseTo(1 / two.probability(A, B), 12);
  });

  it("scores a corpus's validation and test pairs, leaving out a split too short for the streams", () => {
    const corpus = {
      name: 'tiny',
      vocab: ['<unk>', '<eos>', 'a', 'b'],
      unkId: UNK,
      eosId: EOS,
      train: train.data,
      valid: Int32Array.from([B, B, UNK, A]),
      test: Int32Array.from([A, B, A]),
    };
    const model = trainKneserNeyBigram(train, V);
    const one = kneserNeyBaseline(corpus, 1, 1);
    expect(one).toEqual({
      discount: 0.75,
      unigramDiscount: 0.75,
      trainPairs: 7,
      perplexity: {
        validation: kneserNeyPerplexity(model, batchify(corpus.valid, 1)),
        test: kneserNeyPerplexity(model, batchify(corpus.test, 1)),
      },
    });
    // Two streams: the 3 test tokens leave 1 a stream (no pair), so test is left out.
    const two = kneserNeyBaseline(corpus, 2, 2);
    expect(two.trainPairs).toBe(6);
    expect(Object.keys(two.perplexity)).toEqual(['validation']);
  });

  it('rejects bad discounts, ids outside the vocabulary and data with no count of 1', () => {
    expect(() => trainKneserNeyBigram(train, V, { discount: 0 })).toThrow(
      /discount must be a number in \(0, 1\] or 'estimate', got 0/,
    );
    expect(() => trainKneserNeyBigram(train, V, { discount: 1.5 })).toThrow(UserInputError);
    expect(() => trainKneserNeyBigram(train, 3)).toThrow(
      /training token id 3 is outside the vocabulary \[0, 3\)/,
    );
    const model = trainKneserNeyBigram(train, V);
    expect(() => model.probability(0, 4)).toThrow(/next token id 4 is outside/);
    // One pair type, counted twice: n1 = 0.
    const doubled = batchify(Int32Array.from([A, A, A]), 1);
    expect(() => trainKneserNeyBigram(doubled, V, { discount: 'estimate' })).toThrow(
      /cannot estimate the Kneser-Ney discount of the pair counts: none is counted once/,
    );
  });
});
