import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageClassificationDataset } from '../../src/data/types.js';
import { buildMlp } from '../../src/models/mlp.js';
import { AdamW } from '../../src/optimizers/index.js';
import { readRuns } from '../../src/report/runs.js';
import { writeReport, type ReportJson } from '../../src/report/write.js';
import { trainClassifier } from '../../src/training/index.js';
import { tempDir } from './synthetic.js';

/** Three noisy 4×4 class patterns (a fixed LCG, so every run sees the same data). */
function patterns(): ImageClassificationDataset {
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const prototypes = [0, 1, 2].map(() => Float32Array.from({ length: 16 }, next));
  const split = (count: number) => {
    const images = new Float32Array(count * 16);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = i % 3;
      for (let p = 0; p < 16; p++) images[i * 16 + p] = 0.6 * prototypes[i % 3]![p]! + 0.4 * next();
    }
    return { images, labels, count };
  };
  return {
    name: 'patterns',
    imageShape: [4, 4, 1],
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    train: split(96),
    test: split(48),
  };
}

let root: string;
let out: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = tempDir('real');
  out = tempDir('real-out');
  const data = patterns();
  const before = tf.memory().numTensors;
  for (const predictionSteps of [0, 1]) {
    for (const seed of [1, 2]) {
      const model = buildMlp({ inputShape: [4, 4, 1], hiddenUnits: [12], numClasses: 3, seed });
      const optimizer = new AdamW({ learningRate: 0.02, predictionSteps });
      await trainClassifier({
        model,
        data,
        optimizer,
        epochs: 3,
        batchSize: 16,
        seed,
        logEvery: 2,
        outDir: path.join(root, `s${predictionSteps}`, `seed-${seed}`),
        label: predictionSteps === 0 ? 'adamw' : 'adamw s=1',
        config: { optimizer: { name: 'adamw', predictionSteps } },
        progress: 'none',
      });
      model.dispose();
      optimizer.dispose();
    }
  }
  expect(tf.memory().numTensors).toBe(before);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

describe('the report reads what the training loop writes', () => {
  it('runs from trainClassifier are read, compared and reported', async () => {
    const runs = await readRuns(root);
    expect(runs).toHaveLength(4);
    expect(runs.every((r) => r.finished && r.warnings.length === 0)).toBe(true);
    const { analysis, files } = await writeReport({
      runsRoot: root,
      outDir: out,
      meta: { command: 'test', packageVersion: '0.1.0', backend: 'cpu', machine: 'test' },
    });
    expect(analysis.tasks).toHaveLength(1);
    const task = analysis.tasks[0]!;
    expect(task.metric).toBe('accuracy');
    expect(task.baseline).toBe('adamw');
    expect(task.configs.map((c) => [c.label, c.predictionSteps, c.seeds])).toEqual([
      ['adamw', 0, [1, 2]],
      ['adamw s=1', 1, [1, 2]],
    ]);
    const s1 = task.configs[1]!;
    // Weight prediction keeps a weight cache: it must cost extra optimizer memory.
    expect(s1.vsBaseline!.extraMemoryBytes).toBeGreaterThan(0);
    expect(s1.curves.testMetric.map((p) => p.x)).toEqual([1, 2, 3]);
    // 96 samples / 16 = 6 updates per epoch, logged every 2: 9 step records per run.
    expect(runs[0]!.steps).toHaveLength(9);
    expect(s1.curves.trainLoss.length).toBeGreaterThan(3);
    const json = JSON.parse(fs.readFileSync(files.json, 'utf8')) as ReportJson;
    expect(json.runs.map((r) => r.summary!.final.testMetric)).toEqual(
      runs.map((r) => r.epochs[r.epochs.length - 1]!.testMetric),
    );
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('| adamw s=1 | 2 |');
  });
});
