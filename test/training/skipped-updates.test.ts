import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/optimizers/index.js';
import { train, type TaskAdapter } from '../../src/training/index.js';
import { readMetrics, tinyMlp } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-skipped-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * A regression task on fixed inputs whose third batch of every epoch has a finite loss but a NaN
 * gradient: sqrt(0 · Σ kernel) is 0, and its gradient is Inf · 0. With nonFiniteGradients 'skip'
 * that update is skipped (one per epoch) and the run otherwise trains normally.
 */
function poisonedAdapter(model: tf.LayersModel): TaskAdapter {
  const x = tf.tensor4d(
    Array.from({ length: 8 * 16 }, (_, i) => ((i * 37) % 11) / 11),
    [8, 4, 4, 1],
  );
  const kernel = model.trainableWeights[0]!.read();
  const meanSquare = () => tf.mean(tf.square(model.predict(x) as tf.Tensor)) as tf.Scalar;
  return {
    task: 'poisoned',
    metric: 'accuracy',
    higherIsBetter: true,
    unit: 'samples',
    model,
    batchesPerEpoch: 4,
    config: {},
    beginEpoch() {},
    batch: (index) => ({
      loss: () => (index === 2 ? meanSquare().add(tf.sqrt(tf.sum(kernel).mul(0))) : meanSquare()),
      size: 8,
      finish() {},
    }),
    carried: () => [],
    setCarried() {},
    evaluatedOn: 'test',
    evaluate: async () => {
      const loss = tf.tidy(meanSquare);
      const value = (await loss.data())[0]!;
      loss.dispose();
      return { loss: value, metric: 1 / (1 + value) };
    },
    dispose: () => x.dispose(),
  };
}

function run(outDir: string, options: { resume?: boolean; stopAt?: number } = {}) {
  const model = tinyMlp(1);
  const adapter = poisonedAdapter(model);
  const optimizer = new AdamW({ learningRate: 0.01, nonFiniteGradients: 'skip' });
  return train(adapter, {
    optimizer,
    epochs: 3,
    batchSize: 8,
    seed: 1,
    logEvery: 1,
    outDir,
    progress: 'none',
    ...(options.resume && { resume: true }),
    ...(options.stopAt !== undefined && {
      onStep: (step: number) => {
        if (step === options.stopAt) throw new Error('stopped on purpose');
      },
    }),
  }).finally(() => {
    adapter.dispose();
    model.dispose();
    optimizer.dispose();
  });
}

describe("skipped updates (nonFiniteGradients: 'skip')", () => {
  it('are counted in the step and epoch records and in the summary', async () => {
    const out = path.join(root, 'whole');
    const { summary, records } = await run(out);
    expect(summary.skippedUpdates).toBe(3);
    expect(Number.isFinite(summary.final.testLoss)).toBe(true);
    // Cumulative: the count rises at the third update of each epoch (steps 3, 7, 11).
    const steps = records.filter((r) => r.type === 'step');
    expect(steps.map((r) => r.skippedUpdates)).toEqual([0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    expect(records.filter((r) => r.type === 'epoch').map((r) => r.skippedUpdates)).toEqual([
      1, 2, 3,
    ]);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
      skippedUpdates: number;
    };
    expect(saved.skippedUpdates).toBe(3);
  });

  it('keep their count across an interruption and resume', async () => {
    const out = path.join(root, 'resumed');
    // Stopped in epoch 2, after the checkpoint at the end of epoch 1.
    await expect(run(out, { stopAt: 6 })).rejects.toThrow('stopped on purpose');
    const { summary } = await run(out, { resume: true });
    expect(summary.skippedUpdates).toBe(3);
    const whole = readMetrics(fs.readFileSync(path.join(root, 'whole', 'metrics.jsonl'), 'utf8'));
    const resumed = readMetrics(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'));
    expect(resumed.map((r) => r.skippedUpdates)).toEqual(whole.map((r) => r.skippedUpdates));
  });
});
