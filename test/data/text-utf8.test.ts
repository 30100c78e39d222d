import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstInvalidUtf8Offset, loadTextCorpus } from '../../src/data/corpora.js';
import { Rng } from '../../src/data/rng.js';
import { UserInputError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'wp-utf8-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fatal = new TextDecoder('utf-8', { fatal: true });
const decodes = (bytes: Uint8Array) => {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
};

describe('firstInvalidUtf8Offset', () => {
  it.each([
    ['ASCII', [0x61, 0x62], -1],
    ['é, €, 😀', [...Buffer.from('é€😀')], -1],
    ['a Latin-1 é', [0x63, 0x61, 0x66, 0xe9, 0x20], 3],
    ['an overlong "/"', [0x61, 0xc0, 0xaf], 1],
    ['a surrogate', [0xed, 0xa0, 0x80], 0],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a lone continuation byte', [0x80], 0],
    ['a sequence cut at the end', [0x61, 0xe2, 0x82], 1],
  ])('%s', (_name, bytes, offset) => {
    expect(firstInvalidUtf8Offset(Uint8Array.from(bytes))).toBe(offset);
    expect(decodes(Uint8Array.from(bytes))).toBe(offset === -1);
  });

  it('agrees with TextDecoder (fatal) on 20,000 random byte strings', () => {
    const rng = Rng.fromKey(19, 0x75f8);
    // Bytes drawn mostly from the interesting ranges (lead and continuation bytes).
    const pool = [0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef];
    pool.push(0xf0, 0xf4, 0xf5, 0xff);
    let invalid = 0;
    for (let n = 0; n < 20_000; n++) {
      const bytes = Uint8Array.from({ length: 1 + rng.nextInt(8) }, () =>
        rng.nextFloat() < 0.3 ? rng.nextInt(256) : pool[rng.nextInt(pool.length)]!,
      );
      const offset = firstInvalidUtf8Offset(bytes);
      expect(offset === -1).toBe(decodes(bytes));
      if (offset >= 0) {
        invalid++;
        // Everything before the offset decodes; the sequence at the offset does not.
        expect(decodes(bytes.subarray(0, offset))).toBe(true);
      }
    }
    expect(invalid).toBeGreaterThan(1000);
  });
});

describe('loadTextCorpus refuses invalid UTF-8', () => {
  it('names the file and the byte offset instead of dropping the bytes', () => {
    const dir = join(root, 'latin1');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'train.txt'),
      Buffer.from('the cat sat\nthe caf\xe9 is open\n', 'latin1'),
    );
    writeFileSync(join(dir, 'valid.txt'), 'the cat\n');
    writeFileSync(join(dir, 'test.txt'), 'the cat\n');
    const load = () => loadTextCorpus({ dir });
    expect(load).toThrow(UserInputError);
    expect(load).toThrow(
      `train text file ${join(dir, 'train.txt')} is not valid UTF-8: byte 0xe9 at byte offset 19 (after " sat\\nthe caf")`,
    );
  });
});
