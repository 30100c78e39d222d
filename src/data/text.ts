import { UserInputError } from '../errors.js';
import type { LanguageModelCorpus } from './types.js';

export const UNK = '<unk>';
export const EOS = '<eos>';
/** The number token: every number becomes this one word, as in the Mikolov PTB files. */
export const NUM = 'N';
export const DEFAULT_VOCAB_SIZE = 10_000;

/**
 * How raw text becomes tokens.
 * - `'ptb'`: the PTB-style normalisation of `tokenizePtb`.
 * - `'whitespace'`: split on whitespace only, nothing else changed (for text that is already
 *   tokenized, such as the Mikolov `ptb.*.txt` files).
 */
export type Tokenization = 'ptb' | 'whitespace';

/**
 * How a document becomes lines (one `<eos>` after each).
 * - `'sentences'`: blank-line-separated paragraphs are joined and split into sentences by
 *   `splitSentences` (for prose with hard-wrapped lines, or one line per document).
 * - `'lines'`: every non-empty line is one sentence (the PTB file format).
 */
export type Segmentation = 'sentences' | 'lines';

const CLITIC = /^(.+?)('s|'ll|'re|'ve|'d|'m)$/;
const NEGATION = /^(.+)(n't)$/;
// One pass over the text: special tokens, a standalone upper-case N (already a number token),
// numbers (1,234 / 3.5 / 1990s / 12th), words with inner hyphens or apostrophes, bare clitics.
const TOKEN =
  /(<unk>|<eos>)|(?<![\p{L}\p{N}])(N)(?![\p{L}\p{N}])|(\p{N}+(?:[.,:/]\p{N}+)*\p{L}*)|(\p{L}[\p{L}\p{N}]*(?:['-][\p{L}\p{N}]+)*)|('(?:s|ll|re|ve|d|m)|n't)(?![\p{L}\p{N}])/gu;

/**
 * PTB-style word tokens of one line of text:
 * - lower-cased; curly quotes become straight ones first;
 * - every token that starts with a digit (1,234 / 3.5 / 1990s / 12th / 9:30) becomes `N`, as does a
 *   standalone upper-case `N`; letters-only Roman numerals stay words;
 * - words keep inner hyphens and apostrophes (`twenty-one`, `o'clock`); the clitics `'s 'll 're 've
 *   'd 'm` and `n't` are split off as in the Treebank (`don't` → `do n't`, `mary's` → `mary 's`);
 * - all other punctuation is dropped (PTB's LM files keep words only, bar a few symbols);
 * - literal `<unk>` and `<eos>` are kept as those tokens (so already-normalised text round-trips).
 */
export function tokenizePtb(text: string): string[] {
  const out: string[] = [];
  const normalized = text.replace(/[\u2018\u2019\u02bc]/g, "'");
  for (const m of normalized.matchAll(TOKEN)) {
    if (m[1] !== undefined) out.push(m[1].toLowerCase());
    else if (m[2] !== undefined || m[3] !== undefined) out.push(NUM);
    else if (m[4] !== undefined) {
      const word = m[4].toLowerCase();
      const neg = NEGATION.exec(word);
      const clitic = neg === null ? CLITIC.exec(word) : null;
      if (neg !== null) out.push(neg[1] as string, neg[2] as string);
      else if (clitic !== null) out.push(clitic[1] as string, clitic[2] as string);
      else out.push(word);
    } else if (m[5] !== undefined) out.push(m[5].toLowerCase());
  }
  return out;
}

/** Splits on whitespace, nothing else. */
export function tokenizeWhitespace(text: string): string[] {
  return text.split(/\s+/).filter((t) => t.length > 0);
}

// Titles that end in a period without ending the sentence.
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'st',
  'messrs',
  'mme',
  'mlle',
  'jr',
  'sr',
  'prof',
  'gen',
  'col',
  'capt',
  'lt',
  'rev',
  'hon',
  'gov',
  'sen',
  'rep',
  'no',
  'vs',
  'etc',
]);

/**
 * Rule-based sentence splitter. Paragraphs are separated by blank lines; inside one, hard line
 * breaks are spaces. A sentence ends at `.`, `!` or `?` (plus closing quotes or brackets) followed by
 * whitespace and an upper-case letter, digit or opening quote, unless the word before the period is
 * a title such as `Mr.` or a single capital initial (`J. Smith`).
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const paragraph of text.split(/\n[ \t\r]*\n/)) {
    const joined = paragraph.replace(/\s+/g, ' ').trim();
    if (joined.length === 0) continue;
    let start = 0;
    const boundary = /[.!?]+['"\u2019\u201d)\]]*\s+(?=['"\u2018\u201c([]*[\p{Lu}\p{N}])/gu;
    for (const m of joined.matchAll(boundary)) {
      const end = (m.index ?? 0) + m[0].length;
      const before = /([\p{L}]+)\.['"\u2019\u201d)\]]*\s+$/u.exec(joined.slice(start, end));
      const word = before?.[1];
      if (word !== undefined && (ABBREVIATIONS.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word))) {
        continue;
      }
      sentences.push(joined.slice(start, end).trim());
      start = end;
    }
    if (start < joined.length) sentences.push(joined.slice(start).trim());
  }
  return sentences.filter((s) => s.length > 0);
}

/** Tokenized lines (sentences) of one document, empty ones dropped. */
export function documentLines(
  text: string,
  segmentation: Segmentation,
  tokenization: Tokenization,
): string[][] {
  const tokenize = tokenization === 'ptb' ? tokenizePtb : tokenizeWhitespace;
  const raw = segmentation === 'sentences' ? splitSentences(text) : text.split(/\r?\n/);
  const lines: string[][] = [];
  for (const line of raw) {
    const tokens = tokenize(line);
    if (tokens.length > 0) lines.push(tokens);
  }
  return lines;
}

/** One document's lines split by position into train / valid / test. */
export interface SplitLines {
  train: string[][];
  valid: string[][];
  test: string[][];
}

/**
 * The per-document split: of a document's n lines, `[0, floor(0.9 n))` are train,
 * `[floor(0.9 n), floor(0.95 n))` valid and the rest test, so every document (book, speech)
 * contributes to all three splits and the held-out text always follows the training text.
 */
export function splitDocumentLines(lines: string[][]): SplitLines {
  const n = lines.length;
  const a = Math.floor(0.9 * n);
  const b = Math.floor(0.95 * n);
  return { train: lines.slice(0, a), valid: lines.slice(a, b), test: lines.slice(b) };
}

/** How the vocabulary is chosen from the training words (see `buildVocab`). */
export interface VocabOptions {
  /** At most this many words besides `<unk>` and `<eos>` (default 10,000). */
  vocabSize?: number;
  /**
   * Only words seen at least this often in training (default 1: every word may enter). With 2,
   * words seen once in training are `<unk>` there too, so that a corpus with fewer distinct words
   * than `vocabSize` still has `<unk>` in training, as Penn Treebank does: otherwise the model
   * never learns to predict the `<unk>` that held-out text brings.
   */
  minCount?: number;
}

function checkVocabOptions(vocabSize: number, minCount: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new UserInputError(`vocabSize must be a positive integer, got ${String(vocabSize)}`);
  }
  if (!Number.isInteger(minCount) || minCount < 1) {
    throw new UserInputError(`minCount must be a positive integer, got ${String(minCount)}`);
  }
}

/**
 * The vocabulary: `<unk>` (id 0), `<eos>` (id 1), then the `vocabSize` most frequent training words
 * among those seen at least `minCount` times, most frequent first, ties broken by code-point order
 * of the word so the result is deterministic. Literal `<unk>` / `<eos>` in the text are never
 * counted as words. Every other word becomes `<unk>` in every split, training included.
 */
export function buildVocab(trainLines: string[][], options: VocabOptions = {}): string[] {
  const vocabSize = options.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const minCount = options.minCount ?? 1;
  checkVocabOptions(vocabSize, minCount);
  const counts = new Map<string, number>();
  for (const line of trainLines) {
    for (const token of line) {
      if (token === UNK || token === EOS) continue;
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
  }
  const words = [...counts.entries()]
    .filter(([, n]) => n >= minCount)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, vocabSize)
    .map(([w]) => w);
  return [UNK, EOS, ...words];
}

/** Token ids of lines, `<eos>` after each line, out-of-vocabulary words → `<unk>`. */
export function encodeLines(lines: string[][], index: Map<string, number>): Int32Array {
  let total = 0;
  for (const line of lines) total += line.length + 1;
  const ids = new Int32Array(total);
  const unkId = index.get(UNK) as number;
  const eosId = index.get(EOS) as number;
  let k = 0;
  for (const line of lines) {
    for (const token of line) ids[k++] = index.get(token) ?? unkId;
    ids[k++] = eosId;
  }
  return ids;
}

/**
 * Builds a corpus from already split lines: the vocabulary comes from `train` only
 * (see `buildVocab`), and each split is encoded with `<eos>` after every line.
 */
export function buildCorpus(
  name: string,
  splits: SplitLines,
  vocab: VocabOptions = {},
): LanguageModelCorpus {
  const words = buildVocab(splits.train, vocab);
  const index = new Map(words.map((w, i) => [w, i]));
  return {
    name,
    vocab: words,
    unkId: 0,
    eosId: 1,
    train: encodeLines(splits.train, index),
    valid: encodeLines(splits.valid, index),
    test: encodeLines(splits.test, index),
  };
}

/**
 * Builds a corpus from whole documents: each is segmented and tokenized, then split per document
 * with `splitDocumentLines` (90 / 5 / 5 % of its lines, in order) and concatenated in the order given.
 */
export function corpusFromDocuments(
  name: string,
  documents: { name: string; text: string }[],
  options: VocabOptions & { segmentation?: Segmentation; tokenization?: Tokenization } = {},
): LanguageModelCorpus {
  const all: SplitLines = { train: [], valid: [], test: [] };
  for (const doc of documents) {
    const lines = documentLines(
      doc.text,
      options.segmentation ?? 'sentences',
      options.tokenization ?? 'ptb',
    );
    if (lines.length === 0) throw new UserInputError(`document ${doc.name} contains no words`);
    const split = splitDocumentLines(lines);
    // Loops, not push(...lines): a spread of 100k+ arguments overflows the stack.
    for (const key of ['train', 'valid', 'test'] as const) {
      for (const line of split[key]) all[key].push(line);
    }
  }
  if (all.train.length === 0) throw new UserInputError(`${name}: no training text`);
  return buildCorpus(name, all, { vocabSize: options.vocabSize, minCount: options.minCount });
}

/** Counts handy for reports: tokens per split and the share of `<unk>` in each. */
export function corpusStats(corpus: LanguageModelCorpus): {
  vocabSize: number;
  tokens: { train: number; valid: number; test: number };
  unkRate: { train: number; valid: number; test: number };
} {
  const rate = (ids: Int32Array): number => {
    let unk = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] === corpus.unkId) unk++;
    return ids.length === 0 ? 0 : unk / ids.length;
  };
  return {
    vocabSize: corpus.vocab.length,
    tokens: { train: corpus.train.length, valid: corpus.valid.length, test: corpus.test.length },
    unkRate: { train: rate(corpus.train), valid: rate(corpus.valid), test: rate(corpus.test) },
  };
}
