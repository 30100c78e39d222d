import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { classificationBatches } from '../../src/data/batching.js';
import { CIFAR10_CLASS_NAMES } from '../../src/data/cifar.js';
import { Rng } from '../../src/data/rng.js';
import { UserInputError } from '../../src/errors.js';
import { resolveRun } from '../../src/experiments/config.js';
import { PRESETS } from '../../src/experiments/presets.js';
import { loadImageData, resolveCifar10Source } from '../../src/experiments/run.js';

const root = mkdtempSync(path.join(tmpdir(), 'wp-cifar-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cache = path.join(root, 'cache');

/** The real CLI, as a user runs it, with its image cache in the test's folder. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, WEIGHT_PREDICTION_CACHE: cache },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A CIFAR-10-shaped folder of 32×32 JPEGs: random pixels tinted by class, so it is learnable. */
function tinyCifarFolder(name: string, perClassTrain: number, perClassTest: number): string {
  const dir = path.join(root, name);
  const rng = new Rng(7);
  CIFAR10_CLASS_NAMES.forEach((cls, label) => {
    for (const [split, count] of [
      ['train', perClassTrain],
      ['test', perClassTest],
    ] as const) {
      mkdirSync(path.join(dir, split, cls), { recursive: true });
      for (let i = 0; i < count; i++) {
        const data = Buffer.alloc(32 * 32 * 4);
        for (let p = 0; p < 32 * 32; p++) {
          data[p * 4] = 25 * label + rng.nextInt(30);
          data[p * 4 + 1] = rng.nextInt(256);
          data[p * 4 + 2] = 255 - 25 * label - rng.nextInt(30);
          data[p * 4 + 3] = 255;
        }
        const bytes = jpeg.encode({ width: 32, height: 32, data }, 90).data;
        writeFileSync(path.join(dir, split, cls, `${String(i).padStart(4, '0')}.jpg`), bytes);
      }
    }
  });
  return dir;
}

/** The official binary layout: `records` records of 1 label byte + 3072 CHW pixel bytes. */
function binaryBatches(name: string, records: number): string {
  const dir = path.join(root, name, 'cifar-10-batches-bin');
  mkdirSync(dir, { recursive: true });
  const batch = (offset: number) => {
    const buf = Buffer.alloc(records * 3073);
    for (let r = 0; r < records; r++) {
      buf[r * 3073] = (r + offset) % 10;
      for (let k = 1; k < 3073; k++) buf[r * 3073 + k] = (k * 7 + r * 13 + offset) % 256;
    }
    return buf;
  };
  for (let i = 1; i <= 5; i++) writeFileSync(path.join(dir, `data_batch_${i}.bin`), batch(i));
  writeFileSync(path.join(dir, 'test_batch.bin'), batch(0));
  return path.dirname(dir);
}

describe('cifar10 presets', () => {
  it('read CIFAR-10 with crop+flip and per-channel normalisation, and document their recipe', () => {
    const cifar = PRESETS.filter((p) => p.name.startsWith('cifar10-'));
    expect(cifar.map((p) => p.name).sort()).toEqual([
      'cifar10-resnet',
      'cifar10-smoke',
      'cifar10-vgg',
    ]);
    for (const p of cifar) {
      expect(p.data).toMatchObject({ kind: 'image', dataset: 'cifar10', augment: true });
      expect(p.data).toMatchObject({ normalize: true });
      const { epochs, batchSize, learningRate, schedule, weightDecay } = p.recipe;
      expect(p.description).toContain(`${epochs} epoch`);
      expect(p.description).toContain(`batch ${batchSize}`);
      expect(p.description).toContain(`lr ${learningRate.toExponential()}`);
      expect(p.description).toContain(schedule);
      expect(p.description).toContain(`weight decay ${weightDecay.toExponential()}`);
    }
    expect(PRESETS.find((p) => p.name === 'cifar10-resnet')!.model.kind).toBe('resnet');
    expect(PRESETS.find((p) => p.name === 'cifar10-vgg')!.model.kind).toBe('vgg');
  });
});

describe('resolveCifar10Source', () => {
  const folder = tinyCifarFolder('source-folder', 1, 1);
  const binary = binaryBatches('source-binary', 3);

  it('uses --data-dir: binary batches (the folder or its parent) or class folders', () => {
    expect(resolveCifar10Source('t', binary, () => undefined)).toEqual({
      kind: 'binary',
      dir: binary,
    });
    const inner = path.join(binary, 'cifar-10-batches-bin');
    expect(resolveCifar10Source('t', inner, () => undefined)).toEqual({
      kind: 'binary',
      dir: inner,
    });
    expect(resolveCifar10Source('t', folder, () => '/elsewhere')).toEqual({
      kind: 'folder',
      dir: folder,
      fromDefault: false,
    });
  });

  it('falls back to the shared copy, and without one asks for --data-dir', () => {
    expect(resolveCifar10Source('t', undefined, () => folder)).toEqual({
      kind: 'folder',
      dir: folder,
      fromDefault: true,
    });
    expect(() => resolveCifar10Source('cifar10-vgg', undefined, () => undefined)).toThrow(
      /Task cifar10-vgg needs CIFAR-10: pass --data-dir <folder>: either class folders train\/<class>\/ .*data_batch_1\.bin/,
    );
    expect(() => resolveCifar10Source('t', path.join(root, 'nope'), () => folder)).toThrow(
      UserInputError,
    );
    const empty = path.join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    writeFileSync(path.join(empty, 'readme.txt'), '');
    expect(() => resolveCifar10Source('t', empty, () => folder)).toThrow(
      /holds neither data_batch_1\.bin nor class folders/,
    );
  });

  it('loads the binary batches through loadImageData, as bytes with per-channel stats', () => {
    const config = resolveRun(
      { task: 'cifar10-smoke', dataDir: binary },
      { optimizer: 'adamw', predictionSteps: 0 },
      1,
    );
    const { data, normalize } = loadImageData(
      config,
      config.data as Parameters<typeof loadImageData>[1],
    );
    expect(data.name).toBe('cifar10');
    // 15 training images, 2 of them (10%, rounded) held out for validation.
    expect(data.train.count).toBe(13);
    expect(data.valid?.count).toBe(2);
    expect(data.test.count).toBe(3);
    // The bytes are kept (no normalised float copy); batches are standardised as they are built.
    expect(data.train.images).toBeInstanceOf(Uint8Array);
    expect(normalize?.mean).toHaveLength(3);
    const { x } = classificationBatches(data.train, 15, {
      shuffle: false,
      ...(normalize && { normalize }),
    }).batch(0);
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      let sq = 0;
      const n = x.length / 3;
      for (let i = c; i < x.length; i += 3) {
        const v = x[i] as number;
        sum += v;
        sq += v * v;
      }
      expect(Math.abs(sum / n)).toBeLessThan(1e-4);
      expect(Math.sqrt(sq / n)).toBeCloseTo(1, 3);
    }
  });
});

describe('weight-prediction compare --task cifar10-smoke, end to end', () => {
  it('trains AdamW vs AdamW s=1 on an image folder given by --data-dir and writes a report', () => {
    const data = tinyCifarFolder('tiny-cifar', 6, 2);
    const before = readdirSync(data, { recursive: true }).sort();
    const out = path.join(root, 'compare');
    const run = cli(
      'compare',
      '--task',
      'cifar10-smoke',
      '--seeds',
      '1',
      '--jobs',
      '1',
      '--batch-size',
      '20',
      '--data-dir',
      data,
      '--out',
      out,
    );
    expect(run.stderr).toContain('report:');
    expect(run.code).toBe(0);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| adamw \(baseline\) \| 1 \|/);
    expect(md).toMatch(/\| adamw s=1 \| 1 \|/);
    for (const label of ['adamw', 'adamw-s1']) {
      const dir = path.join(out, 'runs', label, 'seed-1');
      const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as {
        task: string;
        epochs: number;
        steps: number;
        final: { testMetric: number };
        config: { data: Record<string, unknown>; model: Record<string, unknown> };
      };
      expect(summary.task).toBe('cifar10-smoke');
      expect(summary.epochs).toBe(1);
      // 60 training images (the folder holds fewer than 500), 6 held out for validation: 54 / 20.
      expect(summary.steps).toBe(3);
      expect(summary.config.data).toMatchObject({ augment: true, normalize: true });
      expect(summary.config.model).toMatchObject({ kind: 'resnet', depth: 8 });
      expect(summary.final.testMetric).toBeGreaterThanOrEqual(0);
      expect(summary.final.testMetric).toBeLessThanOrEqual(1);
    }
    // Each worker loaded the folder; the decoded arrays went to the cache, not the data folder.
    expect(readdirSync(cache).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    expect(readdirSync(data, { recursive: true }).sort()).toEqual(before);
  });

  it('fails with one line when --data-dir holds no CIFAR-10', () => {
    const run = cli(
      'train',
      '--task',
      'cifar10-smoke',
      '--data-dir',
      path.join(root, 'missing'),
      '--out',
      path.join(root, 'never'),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--data-dir .*missing is not a folder: pass --data-dir <folder>/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
