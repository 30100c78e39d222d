import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { AdamW } from '../../src/optimizers/index.js';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  trainClassifier,
  validateCheckpoint,
  type CheckpointState,
} from '../../src/training/index.js';
import { syntheticImages, tinyMlp } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const sample: CheckpointState = {
  configHash: 'abc123',
  step: 7,
  epoch: 2,
  batchInEpoch: 3,
  rng: { epochStart: [1, 2, 3, 4], current: [5, 6, 7, 8] },
  dropout: { seed: 1, counter: 9 },
  loop: { lossSum: 1.2345678901234567, lossCount: 3 },
  metrics: [
    {
      type: 'step',
      step: 7,
      epoch: 2,
      loss: 0.1,
      learningRate: 0.01,
      elapsedSeconds: 1,
      samplesPerSecond: 2,
    },
  ],
  model: [
    {
      name: 'd/kernel',
      shape: [2, 3],
      dtype: 'float32',
      values: Float32Array.from([1, 2, 3, 4, 5, 6.5]),
    },
  ],
  optimizer: [{ name: 'iter', shape: [], dtype: 'int32', values: Int32Array.from([7]) }],
  carry: [
    { name: 'carry/0', shape: [1, 2], dtype: 'float32', values: Float32Array.from([-1, 1e-30]) },
  ],
};

async function trainedRun(outDir: string, learningRate = 0.02, extra = {}) {
  const model = tinyMlp(3);
  const optimizer = new AdamW({ learningRate });
  try {
    return await trainClassifier({
      model,
      data: syntheticImages(),
      optimizer,
      epochs: 2,
      batchSize: 16,
      seed: 1,
      outDir,
      resume: true,
      progress: 'none',
      ...extra,
    });
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]),
  );
}

describe('checkpoint format', () => {
  it('round-trips every field bit for bit', () => {
    const decoded = decodeCheckpoint(encodeCheckpoint(sample));
    expect(decoded).toEqual(sample);
    expect(decoded.model[0]!.values).toBeInstanceOf(Float32Array);
    expect(decoded.optimizer[0]!.values).toBeInstanceOf(Int32Array);
  });

  it('refuses a flipped byte anywhere, a truncated file, a wrong magic and a wrong version', () => {
    const bytes = encodeCheckpoint(sample);
    for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 40, bytes.length - 1]) {
      const flipped = Uint8Array.from(bytes);
      flipped[at] = flipped[at]! ^ 0x10;
      expect(() => decodeCheckpoint(flipped, 'x.ckpt')).toThrow(/x\.ckpt.*checksum does not match/);
    }
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 5))).toThrow(UserInputError);
    expect(() => decodeCheckpoint(bytes.subarray(0, 10))).toThrow(/truncated/);
    const magic = Uint8Array.from(bytes);
    magic[0] = 0x41;
    expect(() => decodeCheckpoint(magic)).toThrow(/magic string/);
    const version = Uint8Array.from(bytes);
    version[8] = 99;
    expect(() => decodeCheckpoint(version)).toThrow(
      /format version 99, this program reads version 1/,
    );
  });

  it('validation names what differs: config, variable count, name or shape', () => {
    const model = [{ name: 'd/kernel', shape: [2, 3] }];
    expect(() => validateCheckpoint(sample, { configHash: 'abc123', model })).not.toThrow();
    expect(() => validateCheckpoint(sample, { configHash: 'zzz', model })).toThrow(
      /different configuration/,
    );
    expect(() =>
      validateCheckpoint(sample, {
        configHash: 'abc123',
        model: [{ name: 'd/kernel', shape: [3, 2] }],
      }),
    ).toThrow(/d\/kernel\[2,3\] but this run has d\/kernel\[3,2\]/);
    expect(() =>
      validateCheckpoint(sample, {
        configHash: 'abc123',
        model: [{ name: 'e/kernel', shape: [2, 3] }],
      }),
    ).toThrow(/is d\/kernel\[2,3\] but this run has e\/kernel/);
    expect(() => validateCheckpoint(sample, { configHash: 'abc123', model: [] })).toThrow(
      /holds 1 model variables but this run has 0/,
    );
  });
});

describe('resume refuses a bad checkpoint and leaves the run folder untouched', () => {
  it.each([
    [
      'a flipped byte',
      (f: string) => {
        const b = fs.readFileSync(f);
        b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
        fs.writeFileSync(f, b);
      },
      /checksum does not match/,
    ],
    [
      'a truncated file',
      (f: string) => fs.truncateSync(f, fs.statSync(f).size - 100),
      /checksum|truncated/,
    ],
  ])('%s', async (_what, damage, message) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    await trainedRun(dir);
    damage(path.join(dir, 'checkpoint.ckpt'));
    const before = snapshot(dir);
    await expect(trainedRun(dir)).rejects.toThrow(message);
    await expect(trainedRun(dir)).rejects.toBeInstanceOf(UserInputError);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a different configuration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    const first = await trainedRun(dir);
    const before = snapshot(dir);
    await expect(trainedRun(dir, 0.05)).rejects.toThrow(/different configuration/);
    await expect(trainedRun(dir, 0.02, { batchSize: 8 })).rejects.toThrow(
      /different configuration/,
    );
    expect(snapshot(dir)).toEqual(before);
    // The same configuration resumes the finished run: nothing left to train, same summary.
    const again = await trainedRun(dir);
    expect(again.summary.final).toEqual(first.summary.final);
    expect(again.records).toEqual(first.records);
  });
});

describe('resume in the same process', () => {
  it('continues exactly after a crash, although TF.js renamed the rebuilt variables', async () => {
    const run = async (outDir: string, crashAtStep?: number) => {
      const model = tinyMlp(3, 0.2);
      const optimizer = new AdamW({ learningRate: 0.02, predictionSteps: 1 });
      try {
        return await trainClassifier({
          model,
          data: syntheticImages(),
          optimizer,
          epochs: 2,
          batchSize: 16,
          seed: 1,
          outDir,
          resume: true,
          checkpointEvery: 4,
          logEvery: 1,
          progress: 'none',
          onStep: (step) => {
            if (step === crashAtStep) throw new Error('simulated crash');
          },
        });
      } finally {
        model.dispose();
        optimizer.dispose();
      }
    };
    const reference = await run(fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-')));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    await expect(run(dir, 7)).rejects.toThrow('simulated crash');
    const resumed = await run(dir);
    const strip = (r: (typeof reference.records)[number]) => ({
      ...r,
      elapsedSeconds: 0,
      samplesPerSecond: 0,
      ...(r.type === 'epoch' ? { epochSeconds: 0 } : {}),
    });
    expect(resumed.records.map(strip)).toEqual(reference.records.map(strip));
  });
});
