import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { parseIdx, readIdxFile } from '../../src/data/idx.js';

const dir = mkdtempSync(join(tmpdir(), 'idx-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file: magic 00 00, type byte, ndim, big-endian dims, then the payload. */
function idx(type: number, dims: number[], payload: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(payload)]);
}

describe('IDX reader', () => {
  it('decodes uint8 arrays with their shape', () => {
    const a = parseIdx(idx(0x08, [2, 3], [1, 2, 3, 4, 5, 255]));
    expect(a.dtype).toBe('uint8');
    expect(a.shape).toEqual([2, 3]);
    expect([...a.data]).toEqual([1, 2, 3, 4, 5, 255]);
  });

  it('decodes big-endian int32 and float32', () => {
    const i32 = Buffer.alloc(8);
    i32.writeInt32BE(-5, 0);
    i32.writeInt32BE(70000, 4);
    expect([...parseIdx(idx(0x0c, [2], [...i32])).data]).toEqual([-5, 70000]);
    const f32 = Buffer.alloc(4);
    f32.writeFloatBE(1.5, 0);
    const f = parseIdx(idx(0x0d, [1], [...f32]));
    expect(f.dtype).toBe('float32');
    expect([...f.data]).toEqual([1.5]);
  });

  it('reads plain and gzip files alike', () => {
    const raw = idx(0x08, [4], [9, 8, 7, 6]);
    writeFileSync(join(dir, 'a-idx1-ubyte'), raw);
    writeFileSync(join(dir, 'a-idx1-ubyte.gz'), gzipSync(raw));
    expect([...readIdxFile(join(dir, 'a-idx1-ubyte')).data]).toEqual([9, 8, 7, 6]);
    expect([...readIdxFile(join(dir, 'a-idx1-ubyte.gz')).data]).toEqual([9, 8, 7, 6]);
  });

  it('names the file and the problem for bad input', () => {
    const truncated = join(dir, 'truncated-idx3-ubyte');
    writeFileSync(truncated, idx(0x08, [2, 2, 2], [1, 2, 3, 4, 5]));
    expect(() => readIdxFile(truncated)).toThrow(UserInputError);
    expect(() => readIdxFile(truncated)).toThrow(
      /truncated-idx3-ubyte: truncated: .*uint8 \[2, 2, 2\], so 16 header bytes \+ 8 data bytes = 24, but the file has 21 bytes/,
    );

    const shortHeader = join(dir, 'short-header');
    writeFileSync(shortHeader, Buffer.from([0, 0, 8, 3, 0, 0]));
    expect(() => readIdxFile(shortHeader)).toThrow(/short-header: truncated IDX header/);

    const badMagic = join(dir, 'bad-magic');
    writeFileSync(badMagic, Buffer.from('PK\x03\x04 not an idx file'));
    expect(() => readIdxFile(badMagic)).toThrow(
      /bad-magic: bad magic number: not an IDX file \(first bytes 0x50 0x4b/,
    );

    const badType = join(dir, 'bad-type');
    writeFileSync(badType, idx(0x07, [1], [1]));
    expect(() => readIdxFile(badType)).toThrow(
      /bad-type: bad magic number: unknown IDX element type 0x07/,
    );

    const tooLong = join(dir, 'too-long');
    writeFileSync(tooLong, idx(0x08, [2], [1, 2, 3]));
    expect(() => readIdxFile(tooLong)).toThrow(/too-long: size mismatch/);

    const badGzip = join(dir, 'bad.gz');
    writeFileSync(badGzip, gzipSync(idx(0x08, [100], new Array(100).fill(1))).subarray(0, 20));
    expect(() => readIdxFile(badGzip)).toThrow(/bad\.gz: corrupt or truncated gzip/);

    expect(() => readIdxFile(join(dir, 'missing'))).toThrow(/IDX file not found: .*missing/);
    expect(() => readIdxFile(dir)).toThrow(/not a file/);
  });
});
