import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  CACHE_ENV,
  hashParts,
  readCacheFile,
  resolveCacheDir,
  writeCacheFile,
} from '../../src/data/cache.js';
import { loadImageFolder, type ImageFolderLoadInfo } from '../../src/data/image-folder.js';
import type { ImageClassificationDataset } from '../../src/data/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'image-cache-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An 8×8 PNG whose every pixel is (value, 255 - value, 7). */
function png(value: number): Buffer {
  const image = new PNG({ width: 8, height: 8 });
  for (let p = 0; p < 64; p++) image.data.set([value, 255 - value, 7, 255], p * 4);
  return PNG.sync.write(image);
}

/** A data folder with 2 classes × (5 train + 2 test) images; pixel value = 10 * class + index. */
function dataFolder(name: string): string {
  const root = join(tmp, name);
  for (const [label, cls] of ['x', 'y'].entries()) {
    for (const [split, count] of [
      ['train', 5],
      ['test', 2],
    ] as const) {
      mkdirSync(join(root, split, cls), { recursive: true });
      for (let i = 0; i < count; i++) {
        writeFileSync(join(root, split, cls, `${i}.png`), png(10 * label + i + 1));
      }
    }
  }
  return root;
}

function loadWithInfo(dir: string, cacheDir: string | false) {
  let info: ImageFolderLoadInfo | undefined;
  const data = loadImageFolder(dir, { cacheDir, onLoad: (i) => (info = i) });
  return { data, info: info! };
}

const bytes = (x: Float32Array | Uint8Array | Int32Array) =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength);
function expectSame(a: ImageClassificationDataset, b: ImageClassificationDataset): void {
  expect(b.imageShape).toEqual(a.imageShape);
  expect(b.classNames).toEqual(a.classNames);
  for (const split of ['train', 'test'] as const) {
    expect(b[split].count).toBe(a[split].count);
    expect(bytes(b[split].images).equals(bytes(a[split].images))).toBe(true);
    expect(bytes(b[split].labels).equals(bytes(a[split].labels))).toBe(true);
  }
}

describe('resolveCacheDir', () => {
  it('takes the option, then $WEIGHT_PREDICTION_CACHE, then $XDG_CACHE_HOME, then ~/.cache', () => {
    const env = { [CACHE_ENV]: '/env/cache', XDG_CACHE_HOME: '/xdg' };
    expect(resolveCacheDir('/explicit', env)).toBe('/explicit');
    expect(resolveCacheDir(undefined, env)).toBe('/env/cache');
    expect(resolveCacheDir(undefined, { XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/weight-prediction');
    // A relative XDG_CACHE_HOME is invalid per the XDG spec and ignored.
    expect(resolveCacheDir(undefined, { XDG_CACHE_HOME: 'rel' })).toBe(
      join(homedir(), '.cache', 'weight-prediction'),
    );
    expect(resolveCacheDir(undefined, {})).toBe(join(homedir(), '.cache', 'weight-prediction'));
    expect(resolveCacheDir('', { [CACHE_ENV]: '' })).toBe(
      join(homedir(), '.cache', 'weight-prediction'),
    );
  });
});

describe('cache files', () => {
  const file = join(tmp, 'raw', 'a.bin');
  const sections = [Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(9, 8, 7, 6, 5)];

  it('round-trips sections (8-byte aligned) and metadata under their key', () => {
    writeCacheFile(file, 'key-1', { note: 'hi' }, sections);
    const back = readCacheFile(file, 'key-1')!;
    expect(back.meta).toEqual({ note: 'hi' });
    expect(back.sections.map((s) => [...s])).toEqual(sections.map((s) => [...s]));
    for (const s of back.sections) expect(s.byteOffset % 8).toBe(0);
    expect(readdirSync(join(tmp, 'raw'))).toEqual(['a.bin']); // no temp file left behind
    expect(readCacheFile(file, 'key-2')).toBeUndefined();
    expect(readCacheFile(join(tmp, 'raw', 'missing.bin'), 'key-1')).toBeUndefined();
  });

  it('treats any damage as a miss: truncation, a flipped payload byte, junk', () => {
    const original = readFileSync(file);
    writeFileSync(file, original.subarray(0, original.length - 1));
    expect(readCacheFile(file, 'key-1')).toBeUndefined();
    const flipped = Buffer.from(original);
    flipped[flipped.length - 8] = (flipped[flipped.length - 8] as number) ^ 0xff;
    writeFileSync(file, flipped);
    expect(readCacheFile(file, 'key-1')).toBeUndefined();
    const badHeader = Buffer.from(original);
    badHeader[14] = 0x7b; // inside the JSON header
    writeFileSync(file, badHeader);
    expect(readCacheFile(file, 'key-1')).toBeUndefined();
    writeFileSync(file, 'junk');
    expect(readCacheFile(file, 'key-1')).toBeUndefined();
    writeFileSync(file, original);
    expect(readCacheFile(file, 'key-1')).toBeDefined();
  });

  it('hashParts is unambiguous about where one part ends', () => {
    expect(hashParts(['ab', 'c'])).not.toBe(hashParts(['a', 'bc']));
    expect(hashParts(['ab', 'c'])).toBe(hashParts(['ab', 'c']));
  });
});

describe('loadImageFolder cache', () => {
  it('writes one file in the cache folder (never next to the data), then reads it back identical', () => {
    const dir = dataFolder('plain');
    const cache = join(tmp, 'cache-plain');
    const dataBefore = readdirSync(dir, { recursive: true }).sort();
    const first = loadWithInfo(dir, cache);
    expect(first.info.source).toBe('decoded');
    expect(first.info.images).toBe(14);
    expect(readdirSync(cache)).toEqual([first.info.cacheFile!.slice(cache.length + 1)]);
    expect(first.info.cacheFile).toMatch(/image-folder-[0-9a-f]{24}\.bin$/);
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(dataBefore);

    const second = loadWithInfo(dir, cache);
    expect(second.info.source).toBe('cache');
    expect(second.info.cacheFile).toBe(first.info.cacheFile);
    expectSame(first.data, second.data);
    expect(second.data.train.images).toBeInstanceOf(Uint8Array); // the bytes, no float copy
    expect(second.data.train.images[0]).toBe(1);
    expect(second.data.train.images[8 * 8 * 3]).toBe(11);
    // Other options (a limit) get their own cache file.
    const limited = loadImageFolder(dir, { cacheDir: cache, trainLimit: 2 });
    expect(limited.train.count).toBe(2);
    expect(readdirSync(cache)).toHaveLength(2);
    // Without a cache nothing is written and the data is the same.
    const none = loadWithInfo(dir, false);
    expect(none.info).toMatchObject({ source: 'decoded', cacheFile: null });
    expectSame(first.data, none.data);
  });

  it('a changed, added or removed image invalidates the cache', () => {
    const dir = dataFolder('changing');
    const cache = join(tmp, 'cache-changing');
    const first = loadWithInfo(dir, cache);
    expect(loadWithInfo(dir, cache).info.source).toBe('cache');

    // Same size, new content and mtime (as an edit or a re-download leaves it).
    const target = join(dir, 'train', 'x', '0.png');
    const size = statSync(target).size;
    // A new value whose PNG has the old file's size, so only the content and mtime tell.
    const value = [...Array(150).keys()].map((v) => v + 100).find((v) => png(v).length === size)!;
    writeFileSync(target, png(value));
    expect(statSync(target).size).toBe(size);
    const later = new Date(Date.now() + 5000);
    utimesSync(target, later, later);
    const edited = loadWithInfo(dir, cache);
    expect(edited.info.source).toBe('decoded');
    expect(edited.data.train.images[0]).toBe(value);
    expect(loadWithInfo(dir, cache).data.train.images[0]).toBe(value);
    expect(readdirSync(cache)).toHaveLength(1); // rewritten in place, not piling up

    writeFileSync(join(dir, 'test', 'y', '9.png'), png(50));
    const added = loadWithInfo(dir, cache);
    expect(added.info.source).toBe('decoded');
    expect(added.data.test.count).toBe(first.data.test.count + 1);
    rmSync(join(dir, 'test', 'y', '9.png'));
    const removed = loadWithInfo(dir, cache);
    expect(removed.info.source).toBe('decoded');
    expect(removed.data.test.count).toBe(first.data.test.count);
    expect(loadWithInfo(dir, cache).info.source).toBe('cache');
  });

  it('ignores a corrupt cache file and rewrites it', () => {
    const dir = dataFolder('corrupt');
    const cache = join(tmp, 'cache-corrupt');
    const first = loadWithInfo(dir, cache);
    const file = first.info.cacheFile!;
    for (const damage of [
      () => truncateSync(file, 100),
      () => writeFileSync(file, 'not a cache file'),
      () => {
        const b = readFileSync(file);
        b[b.length - 40] = (b[b.length - 40] as number) ^ 0x55;
        writeFileSync(file, b);
      },
    ]) {
      damage();
      const again = loadWithInfo(dir, cache);
      expect(again.info.source).toBe('decoded');
      expectSame(first.data, again.data);
      const healed = loadWithInfo(dir, cache);
      expect(healed.info.source).toBe('cache');
      expectSame(first.data, healed.data);
    }
  });

  it('still loads when the cache folder cannot be written, and says why', async () => {
    const dir = dataFolder('unwritable');
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, '');
    // The warning is expected here: caught, so that the test output stays free of it.
    const warnings: string[] = [];
    const emitWarning = vi
      .spyOn(process, 'emitWarning')
      .mockImplementation((w: string | Error) => void warnings.push(String(w)));
    try {
      const { data, info } = loadWithInfo(dir, join(blocker, 'cache'));
      expect(data.train.count).toBe(10);
      expect(info.source).toBe('decoded');
      expect(info.cacheWriteError).toMatch(/ENOTDIR|EEXIST/);
    } finally {
      emitWarning.mockRestore();
    }
    expect(warnings.join('\n')).toMatch(
      /could not write the image cache .*WEIGHT_PREDICTION_CACHE/,
    );
  });

  it(`honours $${CACHE_ENV}`, () => {
    const dir = dataFolder('env');
    const cache = join(tmp, 'cache-env');
    const previous = process.env[CACHE_ENV];
    process.env[CACHE_ENV] = cache;
    try {
      let info: ImageFolderLoadInfo | undefined;
      loadImageFolder(dir, { onLoad: (i) => (info = i) });
      expect(info!.cacheFile!.startsWith(cache + '/')).toBe(true);
      expect(readdirSync(cache)).toHaveLength(1);
    } finally {
      if (previous === undefined) delete process.env[CACHE_ENV];
      else process.env[CACHE_ENV] = previous;
    }
  });
});
